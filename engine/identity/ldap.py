"""Sign-in against LDAP or Active Directory (ldap3), and what the directory says about a person.

The directory is asked three things: who `username` is (a search, bound as a service account
or anonymously), whether the password is theirs (a bind as them), and which groups they are in.
`DIRECTORY_GROUP_MAP` turns directory groups into FlowDesk groups and roles; the manager
attribute names the person's manager (a DN), who becomes their manager in the org chart.
"""

import functools
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

from engine.errors import Unavailable


@functools.cache
def _ldap3() -> SimpleNamespace:
    """ldap3, imported on the first directory sign-in: it costs every process ~14 MiB otherwise,
    and RQ workers and installations without a directory never use it."""
    with warnings.catch_warnings():  # ldap3 2.9.1, the latest, imports names pyasn1 deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from ldap3 import NONE, Connection, Server
        from ldap3.core.exceptions import LDAPException
        from ldap3.utils.conv import escape_filter_chars
    return SimpleNamespace(NONE=NONE, Connection=Connection, Server=Server,
                           LDAPException=LDAPException, escape=escape_filter_chars)  # fmt: skip


@dataclass(frozen=True)
class DirectorySettings:
    """Where the directory is and how its people and groups are found (api/config.py: LDAP_*)."""

    url: str
    user_base: str
    user_filter: str = "(uid={username})"  # Active Directory: (sAMAccountName={username})
    bind_dn: str = ""  # empty: search anonymously
    bind_password: str = ""
    group_base: str = ""
    group_filter: str = "(member={dn})"  # AD: (member:1.2.840.113556.1.4.1941:={dn}) nests
    group_map: dict = field(default_factory=dict)  # "cn or DN" -> {"groups": [...], "roles": [...]}
    manager_attribute: str = "manager"
    department_attribute: str = "departmentNumber"
    timeout: int = 5  # seconds (whole: ldap3 packs it into a socket option)


@dataclass(frozen=True)
class DirectoryPerson:
    username: str
    display_name: str
    email: str
    department: str | None
    groups: list[str]  # FlowDesk group keys, from the map
    roles: list[str]  # FlowDesk roles, from the map
    manager: "DirectoryPerson | None" = None


def _first(entry, name: str) -> str | None:
    values = entry["attributes"].get(name) if name else None
    if isinstance(values, list):
        return str(values[0]) if values else None
    return str(values) if values not in (None, "") else None


def _connection(settings: DirectorySettings, user: str = "", password: str = ""):
    # No schema read: the attribute lists name both OpenLDAP's and Active Directory's attributes.
    ldap3 = _ldap3()
    server = ldap3.Server(settings.url, get_info=ldap3.NONE, connect_timeout=int(settings.timeout))
    return ldap3.Connection(server, user=user or None, password=password or None,
                      receive_timeout=int(settings.timeout), raise_exceptions=False)  # fmt: skip


def authenticate(
    settings: DirectorySettings, username: str, password: str
) -> DirectoryPerson | None:
    """The person if the directory accepts this username and password, else None.

    Raises:
        Unavailable: the directory cannot be reached.
    """
    if not username or not password:  # an empty password is an anonymous bind: always "valid"
        return None
    lookup = _connection(settings, settings.bind_dn, settings.bind_password)
    try:
        if not lookup.bind():
            raise Unavailable(f"the directory at {settings.url} refused the lookup account")
        entry = _find_user(settings, lookup, username)
        if entry is None or not _password_is(settings, entry["dn"], password):
            return None
        groups = _groups_of(settings, lookup, entry["dn"])
        manager = _manager(settings, lookup, entry)
    except _ldap3().LDAPException as exc:
        raise Unavailable(f"the directory at {settings.url} cannot be reached: {exc}") from exc
    finally:
        lookup.unbind()
    return _person(settings, entry, groups, manager)


def _password_is(settings, dn: str, password: str) -> bool:
    own = _connection(settings, dn, password)
    try:
        return bool(own.bind())
    finally:
        own.unbind()


def _find_user(settings, connection, username: str):
    query = settings.user_filter.format(username=_ldap3().escape(username))
    attributes = ["cn", "displayName", "mail", "uid", "sAMAccountName"]
    attributes += [a for a in (settings.manager_attribute, settings.department_attribute) if a]
    connection.search(settings.user_base, query, attributes=attributes, size_limit=2)
    found = [e for e in connection.response or [] if e.get("type") == "searchResEntry"]
    return found[0] if len(found) == 1 else None  # none, or ambiguous: nobody


def _groups_of(settings, connection, dn: str) -> list[tuple[str, str]]:
    if not settings.group_base:
        return []
    query = settings.group_filter.format(dn=_ldap3().escape(dn))
    connection.search(settings.group_base, query, attributes=["cn"])
    return [
        (e["dn"], _first(e, "cn") or "")
        for e in connection.response or []
        if e.get("type") == "searchResEntry"
    ]


def _manager(settings, connection, entry):
    dn = _first(entry, settings.manager_attribute)
    if not dn:
        return None
    attributes = ["cn", "displayName", "mail", "uid", "sAMAccountName"]
    connection.search(dn, "(objectClass=*)", search_scope="BASE", attributes=attributes)
    found = [e for e in connection.response or [] if e.get("type") == "searchResEntry"]
    return found[0] if found else None


def _person(settings, entry, groups, manager_entry) -> DirectoryPerson:
    keys, roles = [], []
    for dn, cn in groups:
        mapped = settings.group_map.get(dn) or settings.group_map.get(cn) or {}
        keys += [k for k in mapped.get("groups", []) if k not in keys]
        roles += [r for r in mapped.get("roles", []) if r not in roles]
    manager = None
    if manager_entry is not None:
        manager = _plain(manager_entry, settings)
    base = _plain(entry, settings)
    return DirectoryPerson(
        username=base.username, display_name=base.display_name, email=base.email,
        department=_first(entry, settings.department_attribute), groups=keys, roles=roles,
        manager=manager,
    )  # fmt: skip


def _plain(entry, settings) -> DirectoryPerson:
    username = _first(entry, "uid") or _first(entry, "sAMAccountName") or ""
    return DirectoryPerson(
        username=username.lower(), display_name=_first(entry, "displayName") or
        _first(entry, "cn") or username, email=_first(entry, "mail") or "",
        department=None, groups=[], roles=[],
    )  # fmt: skip
