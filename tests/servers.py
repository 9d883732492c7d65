"""Throwaway database servers for tests and the bench: a real PostgreSQL from Debian's package.

`make test` installs `postgresql`; the server runs from a temporary data directory on a free
port, owned by the `postgres` user when we are root (initdb refuses to run as root).
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """Return the folder holding initdb/pg_ctl, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    """A running PostgreSQL server; `url(name)` gives a SQLAlchemy URL for one database."""

    data_dir: Path
    port: int
    bin_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (optionally copied from a template database) and return its URL."""
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sql(self, statement: str) -> None:
        subprocess.run(
            [str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", statement],
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                      "stop"], check=False)  # fmt: skip
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _as_postgres(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def start_postgres() -> Postgres:
    """Start a fast, non-durable PostgreSQL (fsync off) on a free port in a temp directory."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    data_dir = Path(tempfile.mkdtemp(prefix="flowdesk-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres")
    _as_postgres([str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync"], check=True)  # fmt: skip
    port = free_port()
    options = f"-p {port} -k {data_dir} -c fsync=off -c synchronous_commit=off "
    options += "-c full_page_writes=off -c max_connections=200 -c listen_addresses=127.0.0.1"
    _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l",
                  str(data_dir / "server.log"), "-w", "start"], check=True)  # fmt: skip
    server = Postgres(data_dir=data_dir, port=port, bin_dir=bin_dir)
    deadline = time.monotonic() + 20
    while True:
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("PostgreSQL did not start")
        time.sleep(0.2)
