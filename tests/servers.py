"""Throwaway servers for tests and the bench: a real PostgreSQL and redis-server (Debian's).

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
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis
from redis.exceptions import RedisError


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

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        """A plain psycopg connection (autocommit) to one database of this server."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (optionally copied from a template database) and return its URL."""
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sql(self, statement: str) -> None:
        """Run one statement in the `postgres` database (outside a transaction: CREATE DATABASE)."""
        with self.connect() as connection:
            connection.execute(statement)

    def stop(self) -> None:
        _as_postgres(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"],
            check=False,
        )
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _as_postgres(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def memory_dir() -> str | None:
    """A RAM-backed folder (tmpfs) for throwaway data, or None where there is none."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def start_postgres(parent: str | None = None) -> Postgres:
    """Start a fast, non-durable PostgreSQL (fsync off) on a free port in a temp directory.

    `parent` holds the data directory (default: the system's temp folder); the tests pass
    memory_dir(), where CREATE DATABASE from a template takes ~30 ms instead of ~0.5 s.
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    data_dir = Path(tempfile.mkdtemp(prefix="flowdesk-pg-", dir=parent))
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres")
    _as_postgres(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
    )
    port = free_port()
    options = f"-p {port} -k {data_dir} -c fsync=off -c synchronous_commit=off "
    options += "-c full_page_writes=off -c max_connections=200 -c listen_addresses=127.0.0.1"
    _as_postgres(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-o",
            options,
            "-l",
            str(data_dir / "server.log"),
            "-w",
            "start",
        ],
        check=True,
    )
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


class RedisServer:
    """A redis-server on a free port that keeps nothing on disk: a restart starts it empty."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not Path(self.binary).exists():
            raise RuntimeError("redis-server is not installed (`make system-deps` installs it)")
        self.starts += 1
        log_path = self.directory / f"redis-server-{self.starts}.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while not self._pong():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {log_path.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING")
            time.sleep(0.05)

    def _pong(self) -> bool:
        try:
            with closing(Redis(host="127.0.0.1", port=self.port)) as client:
                return client.ping()
        except RedisError:  # not up yet
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_SESSION: dict[str, Any] = {}


def session_resource(request, name: str, build: Callable[[], Any], close=None) -> Any:
    """Build `name` once per pytest session, whichever tier asks first; close it when it ends.

    Each tier's conftest has its own session fixtures (pytest caches one value per conftest), so
    the value is kept here and `close` is registered on the session itself.
    """
    if name not in _SESSION:
        _SESSION[name] = build()
        if close is not None:
            request.session.addfinalizer(lambda: close(_SESSION.pop(name)))
    return _SESSION[name]


def session_postgres(request) -> Postgres:
    """The pytest session's PostgreSQL server, shared by every tier that asks for one."""
    return session_resource(
        request, "postgres", lambda: start_postgres(memory_dir()), Postgres.stop
    )
