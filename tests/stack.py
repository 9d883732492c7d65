"""The platform for real, shared by the integration and fault tiers: redis-server, a database
(SQLite, or PostgreSQL when FLOWDESK_TEST_DB=postgresql), `python -m workers` processes, and the
web side either served (gunicorn, spoken to over HTTP) or in-process (a Flask test client).

Each test gets a flushed Redis DB, its own database (a copy of a template built once per session
with the CLI: `db upgrade`, `flowdesk sync`, `flowdesk seed-demo`) and its own processes, stopped
at the end. Their output goes to files in tmp_path and is printed when the test fails. A tier's
conftest imports the fixtures below.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from redis import Redis
from rq import Worker

from api.app import create_app
from engine.db import db
from tests.conftest import ROOT
from tests.servers import RedisServer, free_port, session_postgres, session_resource

DATABASES = ("sqlite", "postgresql")
FUTURE_DATE = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()  # no boundary timer fires
STOP_SECONDS = 10  # SIGTERM, then SIGKILL
PG_TEMPLATE = "flowdesk_cli_template"

ONBOARDING_DATA = {
    "first_name": "Wei",
    "last_name": "Zhang",
    "username": "wei.zhang",
    "personal_email": "wei@example.com",
    "department": "engineering",
    "role": "Backend engineer",
    "start_date": FUTURE_DATE,
    "employment_type": "employee",
    "location": "shanghai",
}

LAPTOP = {"asset_tag": "LT-00042", "laptop_model": "thinkpad_t14"}

STORE_DATA = {
    "store_id": "S0123",
    "store_name": "Chengdu Taikoo Li",
    "region": "west",
    "address": "1 Zhongshamao St",
    "opening_date": FUTURE_DATE,
}


def database_kind() -> str:
    """The database the suites run on: FLOWDESK_TEST_DB, `sqlite` (default) or `postgresql`."""
    name = os.environ.get("FLOWDESK_TEST_DB") or "sqlite"
    if name not in DATABASES:
        raise pytest.UsageError(f"FLOWDESK_TEST_DB={name!r}: use one of {', '.join(DATABASES)}")
    return name


# --- helpers ------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float, *, interval: float = 0.2, what="it"):
    """Poll `predicate` until it returns something truthy and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}; last: {value!r}")
        time.sleep(interval)


def fixture_bpmn(path: Path, **replacements: str) -> bytes:
    """A BPMN file, with `__NAME__` placeholders replaced."""
    text = path.read_text()
    for key, value in replacements.items():
        text = text.replace(f"__{key}__", value)
    return text.encode()


def _pg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def query(database_url: str, sql: str, *params) -> list[tuple]:
    """Read the test's database directly (what the processes wrote, not what the API says).

    `?` placeholders, on SQLite and PostgreSQL alike.
    """
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path, timeout=30)) as connection:
            return connection.execute(sql, params).fetchall()
    with psycopg.connect(_pg_dsn(database_url), autocommit=True) as connection:
        return connection.execute(sql.replace("?", "%s"), params).fetchall()


def database_is_writable(database_url: str, *, lock_wait_seconds: float) -> bool:
    """Whether a writer gets the write locks within `lock_wait_seconds`.

    SQLite: the database's write lock (BEGIN IMMEDIATE). PostgreSQL: row locks on every
    instance and job row, i.e. nobody holds a transaction open on them.
    """
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        with closing(
            sqlite3.connect(path, timeout=lock_wait_seconds, isolation_level=None)
        ) as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):
                    return False
                raise
            connection.execute("ROLLBACK")
            return True
    with psycopg.connect(_pg_dsn(database_url)) as connection:
        connection.execute(f"SET lock_timeout = '{int(lock_wait_seconds * 1000)}ms'")
        try:
            connection.execute("SELECT id FROM process_instance FOR UPDATE").fetchall()
            connection.execute("SELECT id FROM job FOR UPDATE").fetchall()
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            connection.rollback()
        return True


# --- talking to the web side --------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: Any
    text: str


class HttpTransport:
    """A served web process, over real HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def __call__(self, method, path, *, headers, json=None, data=None) -> Reply:
        response = self.session.request(
            method, self.base_url + path, headers=headers, json=json, data=data, timeout=30
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        return Reply(response.status_code, body, response.text)

    def close(self) -> None:
        self.session.close()


class ClientTransport:
    """The in-process app, through its Flask test client."""

    def __init__(self, app):
        self.client = app.test_client()

    def __call__(self, method, path, *, headers, json=None, data=None) -> Reply:
        response = self.client.open(path, method=method, headers=headers, json=json, data=data)
        return Reply(response.status_code, response.get_json(silent=True), response.text)

    def close(self) -> None:
        pass


class Api:
    """The API as one demo user (token `demo-<username>`)."""

    def __init__(self, transport, username: str):
        self.transport, self.username = transport, username

    def _call(self, method, path, headers=None, **kwargs) -> Reply:
        merged = {"Authorization": f"Bearer demo-{self.username}", **(headers or {})}
        return self.transport(method, path, headers=merged, **kwargs)

    def get(self, path: str) -> Reply:
        return self._call("GET", path)

    def post(self, path: str, **kwargs) -> Reply:
        return self._call("POST", path, **kwargs)


class Web:
    """One web side (served or in-process); `web.as_user("hr")` speaks as a demo user."""

    def __init__(self, transport):
        self.transport = transport

    def as_user(self, username: str) -> Api:
        return Api(self.transport, username)


def deploy(api: Api, key: str, xml: bytes) -> dict:
    reply = api.post(
        f"/api/v1/processes/{key}/versions",
        data=xml,
        headers={"Content-Type": "application/xml"},
    )
    assert reply.status == 201, reply.text
    return reply.body


def start_instance(api: Api, offering: str, data: dict) -> dict:
    reply = api.post("/api/v1/instances", json={"offering": offering, "data": data})
    assert reply.status == 201, reply.text
    return reply.body


def get_instance(api: Api, instance_id: int) -> dict:
    reply = api.get(f"/api/v1/instances/{instance_id}")
    assert reply.status == 200, reply.text
    return reply.body


def open_task(instance: dict, bpmn_id: str) -> dict:
    found = [t for t in instance["open_tasks"] if t["bpmn_id"] == bpmn_id]
    assert len(found) == 1, (bpmn_id, instance["status"], instance["open_tasks"])
    return found[0]


def complete_task(api: Api, instance: dict, bpmn_id: str, data: dict) -> dict:
    task = open_task(instance, bpmn_id)
    reply = api.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"data": data})
    assert reply.status == 202, reply.text
    return reply.body


def wait_for_status(api: Api, instance_id: int, status: str, timeout: float = 30) -> dict:
    """Poll GET /api/v1/instances/<id> until its status is `status`; return the body."""
    last = {}

    def reached():
        last["body"] = get_instance(api, instance_id)
        if last["body"]["status"] == "error" and status != "error":
            raise AssertionError(f"instance {instance_id} went to error: {last['body']['events']}")
        return last["body"] if last["body"]["status"] == status else None

    try:
        return wait_for(reached, timeout, what=f"instance {instance_id} to be {status}")
    except AssertionError:
        body = last.get("body") or {}
        print(f"instance {instance_id}: {json.dumps(body, indent=1, default=str)}")
        raise


def wait_for_all(api: Api, instance_ids: list[int], status: str, timeout: float) -> list[dict]:
    """Poll until every instance has `status` (failing early on `error`); return their bodies."""
    waiting = set(instance_ids)

    def reached():
        for instance_id in sorted(waiting):
            current = get_instance(api, instance_id)
            if current["status"] == "error" and status != "error":
                raise AssertionError(f"instance {instance_id} went to error: {current['events']}")
            if current["status"] != status:
                return None
            waiting.discard(instance_id)
        return True

    wait_for(reached, timeout, interval=0.5, what=f"{len(instance_ids)} instances to be {status}")
    return [get_instance(api, instance_id) for instance_id in instance_ids]


def event_kinds(instance: dict) -> list[str]:
    return [e["kind"] for e in instance["events"]]


# --- processes ----------------------------------------------------------------------------------


class Processes:
    """Processes one test started: output to a log file each; stopped by pid at teardown."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.started: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log_path = self.directory / f"{len(self.started) + 1:02d}-{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: what it forks goes with it
            )
        self.started.append((name, process, log_path))
        return process

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        """SIGTERM (warm shutdown), SIGKILL after STOP_SECONDS; then whatever it left behind."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        Processes.kill(process)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """kill -9 the process and everything in its process group, and reap it."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def stop_all(self) -> None:
        for _, process, _ in reversed(self.started):
            self.stop(process)

    def output(self) -> str:
        parts = []
        for name, process, log_path in self.started:
            parts.append(f"----- {name} (pid {process.pid}, exit {process.returncode}) -----")
            parts.append(log_path.read_text(errors="replace"))
        return "\n".join(parts)


def flowdesk_env(database_url: str, redis_url: str | None = None, **settings) -> dict:
    """The environment of a FlowDesk process: FLOWDESK_<NAME> values (JSON unless strings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDESK_")}
    env.update(
        PYTHONUNBUFFERED="1",
        FLOWDESK_DATABASE_URL=database_url,
        FLOWDESK_DEMO="1",
        FLOWDESK_TIMER_POLL_SECONDS="0.5",
    )
    if redis_url:
        env["FLOWDESK_REDIS_URL"] = redis_url
    for name, value in settings.items():
        env[f"FLOWDESK_{name}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def run_cli(database_url: str, *args: str) -> None:
    """`flask --app wsgi <args>` against a database; fail with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=flowdesk_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}{result.stderr}"


def _wait_until_healthy(base_url: str, process: subprocess.Popen, name: str) -> None:
    def healthy():
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}")
        try:
            return requests.get(base_url + "/api/v1/health", timeout=10).status_code == 200
        except requests.RequestException:  # not listening, or its workers still booting
            return False

    wait_for(healthy, 30, what=f"{name} to answer /api/v1/health")


class Stack:
    """One test's platform: its database, its Redis DB, its workers and web sides."""

    def __init__(self, database_url: str, redis_url: str, processes: Processes):
        self.database_url, self.redis_url, self.processes = database_url, redis_url, processes
        self._apps = []
        self._transports = []

    def start_worker(self, **settings) -> subprocess.Popen:
        """`python -m workers` (RQ SimpleWorker + poller) on this database and Redis DB."""
        env = flowdesk_env(self.database_url, self.redis_url, **settings)
        return self.processes.start("worker", [sys.executable, "-m", "workers"], env)

    def serve(self, **settings) -> tuple[Web, subprocess.Popen]:
        """gunicorn with two workers, serving wsgi:app; returns once /api/v1/health answers."""
        port = free_port()
        env = flowdesk_env(self.database_url, self.redis_url, DISPATCHER="rq", **settings)
        argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
        argv += ["--no-control-socket", "wsgi:app"]
        process = self.processes.start("gunicorn", argv, env)
        return self._connect(f"http://127.0.0.1:{port}", process, "gunicorn"), process

    def serve_single(self, **settings) -> tuple[Web, subprocess.Popen]:
        """`flask flowdesk serve`: the web side in one process (whose exit code a test can read)."""
        port = free_port()
        env = flowdesk_env(self.database_url, self.redis_url, DISPATCHER="rq", **settings)
        argv = [sys.executable, "-m", "flask", "--app", "wsgi", "flowdesk", "serve"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        process = self.processes.start("web", argv, env)
        return self._connect(f"http://127.0.0.1:{port}", process, "flowdesk serve"), process

    def _connect(self, base_url: str, process: subprocess.Popen, name: str) -> Web:
        _wait_until_healthy(base_url, process, name)
        transport = HttpTransport(base_url)
        self._transports.append(transport)
        return Web(transport)

    def app(self, **config) -> Web:
        """The web side in this process: create_app() with the rq dispatcher, a test client."""
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "DISPATCHER": "rq",
                **config,
            }
        )
        self._apps.append(app)
        transport = ClientTransport(app)
        self._transports.append(transport)
        return Web(transport)

    def _rq_workers(self, workers: list[subprocess.Popen]) -> list[Worker]:
        live = {process.pid for process in workers if process.poll() is None}
        with closing(Redis.from_url(self.redis_url)) as connection:
            return [w for w in Worker.all(connection=connection) if w.pid in live]

    def worker_running(self, rq_job_ids, workers: list[subprocess.Popen]) -> int | None:
        """The pid of the live worker process among `workers` running one of these RQ jobs now."""
        for worker in self._rq_workers(workers):
            if worker.get_current_job_id() in rq_job_ids:
                return worker.pid
        return None

    def wait_until_listening(self, workers: list[subprocess.Popen]) -> None:
        """Wait until every worker process has registered with Redis (it takes jobs now)."""
        wait_for(
            lambda: len(self._rq_workers(workers)) == len(workers),
            60,
            what=f"{len(workers)} workers to listen",
        )

    def close(self) -> None:
        self.processes.stop_all()
        for transport in self._transports:
            transport.close()
        for app in self._apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            app.extensions["flowdesk"].dispatch.queue.connection.close()


# --- fixtures -----------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def redis_server(request, tmp_path_factory):
    """A real redis-server on a free port for the whole session; its URL without a DB number."""

    def build() -> RedisServer:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
        server.start()
        return server

    return session_resource(request, "redis", build, RedisServer.stop).url


@pytest.fixture
def redis_url(redis_server):
    """DB 0 of the session's redis-server, flushed before and after the test."""
    url = f"{redis_server}/0"
    with closing(Redis.from_url(url)) as client:
        client.flushdb()
        yield url
        client.flushdb()


def _build_template(database_url: str) -> None:
    for args in (
        ["db", "upgrade"],
        ["flowdesk", "sync"],
        ["flowdesk", "seed-demo", "--no-requests"],
    ):
        run_cli(database_url, *args)


@pytest.fixture(scope="session")
def template_db(request, tmp_path_factory) -> str:
    """A migrated database with the bundled processes and the demo users, built with the CLI.

    SQLite: a file to copy; PostgreSQL: a database to use as CREATE DATABASE's template.
    """
    kind = database_kind()

    def build() -> str:
        if kind == "postgresql":
            url = session_postgres(request).create_database(PG_TEMPLATE)
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'flowdesk.db'}"
        _build_template(url)
        return url

    return session_resource(request, f"cli-template:{kind}", build)


@pytest.fixture
def database_url(request, template_db, tmp_path):
    """This test's own database: a copy of the template (file copy, or CREATE DATABASE)."""
    if database_kind() == "sqlite":
        template = Path(template_db.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            source = template.with_name(template.name + suffix)
            if source.exists():
                shutil.copy(source, tmp_path / f"flowdesk.db{suffix}")
        yield f"sqlite:///{tmp_path / 'flowdesk.db'}"
        return
    server = session_postgres(request)
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield server.create_database(name, template=PG_TEMPLATE)
    server.drop_database(name)


@contextmanager
def run_platform(request, database_url: str, redis_url: str, directory: Path) -> Iterator[Stack]:
    """A test's platform: processes stopped at the end, their output printed if the test failed."""
    processes = Processes(directory)
    stack = Stack(database_url, redis_url, processes)
    try:
        yield stack
    finally:
        stack.close()
        failed = any(
            getattr(request.node, f"report_{when}", None) is not None
            and getattr(request.node, f"report_{when}").failed
            for when in ("setup", "call")
        )
        if failed:
            print(processes.output())


@pytest.fixture
def stack(request, database_url, redis_url, tmp_path):
    """This test's platform on the session's redis-server."""
    with run_platform(request, database_url, redis_url, tmp_path) as started:
        yield started


@dataclass
class Call:
    """One request that reached a LocalService."""

    path: str
    json: Any
    key: str | None  # the Idempotency-Key header


class LocalService:
    """An HTTP server on 127.0.0.1 in a thread; `respond(call)` -> (status, json body).

    A client that went away before the answer (a killed worker) is ignored.
    """

    def __init__(self):
        self.respond: Callable[[Call], tuple[int, Any]] = lambda call: (200, {})
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                call = Call(self.path, body, self.headers.get("Idempotency-Key"))
                with service._lock:
                    service.calls.append(call)
                status, answer = service.respond(call)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the caller died meanwhile
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def local_service():
    """Request it before `stack`, so that it outlives the workers calling it."""
    service = LocalService()
    yield service
    service.close()


@pytest.fixture
def free_redis_url() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"
