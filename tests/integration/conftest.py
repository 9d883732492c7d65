"""Integration tier: a real redis-server, real `python -m workers` processes, and the web side
either served (gunicorn, spoken to over HTTP) or in-process (a Flask test client).

Each test gets a flushed Redis DB, its own SQLite file (a copy of a template built once with the
CLI: `db upgrade`, `flowdesk sync`, `flowdesk seed-demo`) and its own processes, stopped at the end.
Their output goes to files in tmp_path and is printed when the test fails.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis
from redis.exceptions import RedisError

from api.app import create_app
from engine.models import db
from tests.conftest import ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FUTURE_DATE = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()  # no boundary timer fires
STOP_SECONDS = 10  # SIGTERM, then SIGKILL

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


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fixture_bpmn(name: str, **replacements: str) -> bytes:
    """A BPMN file from fixtures/, with `__NAME__` placeholders replaced."""
    text = (FIXTURES / name).read_text()
    for key, value in replacements.items():
        text = text.replace(f"__{key}__", value)
    return text.encode()


def query(database_url: str, sql: str, *params) -> list[tuple]:
    """Read the test's SQLite file directly (what the processes wrote, not what the API says)."""
    path = database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path, timeout=30)) as connection:
        return connection.execute(sql, params).fetchall()


def database_is_writable(database_url: str, *, lock_wait_seconds: float) -> bool:
    """Whether a writer gets the SQLite write lock within `lock_wait_seconds`."""
    path = database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path, timeout=lock_wait_seconds, isolation_level=None)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return False
            raise
        conn.execute("ROLLBACK")
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
        if last["body"]["status"] == "error":
            raise AssertionError(f"instance {instance_id} went to error: {last['body']['events']}")
        return last["body"] if last["body"]["status"] == status else None

    try:
        return wait_for(reached, timeout, what=f"instance {instance_id} to be {status}")
    except AssertionError:
        body = last.get("body") or {}
        print(f"instance {instance_id}: {json.dumps(body, indent=1, default=str)}")
        raise


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
        try:  # anything left in the process group we created for it
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

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
        base_url = f"http://127.0.0.1:{port}"

        def healthy():
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {process.returncode}")
            try:
                return requests.get(base_url + "/api/v1/health", timeout=10).status_code == 200
            except requests.RequestException:  # not listening, or its workers still booting
                return False

        wait_for(healthy, 30, what="gunicorn to answer /api/v1/health")
        transport = HttpTransport(base_url)
        self._transports.append(transport)
        return Web(transport), process

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
def redis_server(tmp_path_factory):
    """A real redis-server on a free port for the whole session; its URL without a DB number."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        pytest.fail("redis-server is not installed (`make system-deps` installs it)")
    port = free_port()
    log_path = tmp_path_factory.mktemp("redis") / "redis-server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--daemonize", "no"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    client = Redis(host="127.0.0.1", port=port)

    def pong():
        if process.poll() is not None:
            raise AssertionError(f"redis-server exited: {log_path.read_text()}")
        try:
            return client.ping()
        except RedisError:  # not up yet
            return False

    try:
        wait_for(pong, 15, interval=0.05, what="redis-server to answer PING")
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def redis_url(redis_server):
    """DB 0 of the session's redis-server, flushed before and after the test."""
    url = f"{redis_server}/0"
    with closing(Redis.from_url(url)) as client:
        client.flushdb()
        yield url
        client.flushdb()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """A migrated SQLite file with the bundled processes and the demo users, built with the CLI."""
    path = tmp_path_factory.mktemp("template") / "flowdesk.db"
    env = flowdesk_env(f"sqlite:///{path}")
    for args in (["db", "upgrade"], ["flowdesk", "sync"], ["flowdesk", "seed-demo"]):
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return path


@pytest.fixture
def database_url(template_db, tmp_path) -> str:
    """A per-test copy of the template database."""
    for suffix in ("", "-wal", "-shm"):
        source = template_db.with_name(template_db.name + suffix)
        if source.exists():
            shutil.copy(source, tmp_path / f"flowdesk.db{suffix}")
    return f"sqlite:///{tmp_path / 'flowdesk.db'}"


@pytest.fixture
def stack(request, database_url, redis_url, tmp_path):
    """This test's platform: processes stopped at the end, their output printed on failure."""
    processes = Processes(tmp_path)
    platform = Stack(database_url, redis_url, processes)
    yield platform
    platform.close()
    failed = any(
        getattr(request.node, f"report_{when}", None) is not None
        and getattr(request.node, f"report_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        print(processes.output())


class LocalService:
    """An HTTP server on 127.0.0.1 in a thread; `respond(path, json_body)` -> (status, json)."""

    def __init__(self):
        self.respond: Callable[[str, Any], tuple[int, Any]] = lambda path, body: (200, {})
        self.calls: list[dict] = []
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with service._lock:
                    service.calls.append(
                        {
                            "path": self.path,
                            "json": body,
                            "idempotency_key": self.headers.get("Idempotency-Key"),
                        }
                    )
                status, answer = service.respond(self.path, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

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
