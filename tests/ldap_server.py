"""A real OpenLDAP `slapd` (Debian's) for the tests: its own folder, port and directory tree.

    with LdapServer(tmp_path, ENTRIES) as ldap:   # ldap.url = "ldap://127.0.0.1:<port>"
        ...

The tree is loaded with slapadd before slapd starts; passwords are stored in clear (slapd
checks a simple bind against them), which is fine for a throwaway test directory.
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.servers import free_port

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SUFFIX = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "directory-admin-secret"
CONFIG = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{admin}"
rootpw {password}
directory {folder}/data
access to attrs=userPassword by anonymous auth by * none
access to * by * read
"""


def missing() -> str | None:
    if not (SLAPD.exists() and SLAPADD.exists()):
        return "slapd is missing (apt-get install slapd ldap-utils)"
    return None


def ldif(entries: list[dict]) -> str:
    """Entries as LDIF: [{"dn": ..., "objectClass": [...], "cn": "...", ...}]."""
    blocks = []
    for entry in entries:
        lines = [f"dn: {entry['dn']}"]
        for name, values in entry.items():
            if name == "dn":
                continue
            for value in values if isinstance(values, list) else [values]:
                lines.append(f"{name}: {value}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def base_entries() -> list[dict]:
    return [
        {"dn": SUFFIX, "objectClass": ["top", "dcObject", "organization"], "o": "Example",
         "dc": "example"},
        {"dn": f"ou=people,{SUFFIX}", "objectClass": "organizationalUnit", "ou": "people"},
        {"dn": f"ou=groups,{SUFFIX}", "objectClass": "organizationalUnit", "ou": "groups"},
    ]  # fmt: skip


def person(uid: str, name: str, password: str, **attributes) -> dict:
    first, _, last = name.partition(" ")
    return {
        "dn": f"uid={uid},ou=people,{SUFFIX}", "objectClass": ["top", "inetOrgPerson"],
        "uid": uid, "cn": name, "sn": last or first, "givenName": first,
        "mail": f"{uid}@example.org", "userPassword": password, **attributes,
    }  # fmt: skip


def group(cn: str, *uids: str) -> dict:
    return {
        "dn": f"cn={cn},ou=groups,{SUFFIX}", "objectClass": ["top", "groupOfNames"], "cn": cn,
        "member": [f"uid={uid},ou=people,{SUFFIX}" for uid in uids],
    }  # fmt: skip


class LdapServer:
    def __init__(self, folder: Path, entries: list[dict]):
        self.folder, self.entries = folder, entries
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self) -> "LdapServer":
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        config = self.folder / "slapd.conf"
        config.write_text(CONFIG.format(folder=self.folder, suffix=SUFFIX, admin=ADMIN_DN,
                                        password=ADMIN_PASSWORD))  # fmt: skip
        data = self.folder / "tree.ldif"
        data.write_text(ldif(base_entries() + self.entries))
        subprocess.run([str(SLAPADD), "-f", str(config), "-l", str(data)], check=True,
                       capture_output=True, timeout=60)  # fmt: skip
        self.log = (self.folder / "slapd.log").open("wb")
        self.process = subprocess.Popen(
            [str(SLAPD), "-f", str(config), "-h", self.url + "/", "-d", "0"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.folder / 'slapd.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("slapd did not listen within 30 s")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.log.close()
        shutil.rmtree(self.folder / "data", ignore_errors=True)
