"""The API against its own OpenAPI document: schemathesis with `--checks all`, for every
operation, as an admin, a requester and an agent (who has tasks to work), on the demo platform
(SQLite, or PostgreSQL with FLOWDESK_TEST_DB=postgresql) served by `flowdesk serve` with its
in-process worker.

0 server errors and 0 schema violations: every answer, error answers included, is what the
document says. Settings in schemathesis.toml (and why) beside this file; a fixed seed makes a
failure reproducible (`st replay <id>` with the printed test case id).
"""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.servers import free_port, session_postgres
from tests.stack import Processes, _wait_until_healthy, database_kind, flowdesk_env, run_cli

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = Path(sys.executable).with_name("st")
SEED = "20261202"
OPERATIONS = 46  # every operation of /api/v1/openapi.json; a new one must be counted here


@pytest.fixture(scope="module")
def platform(request, tmp_path_factory):
    """A fresh demo (users and requests), served; its base URL."""
    directory = tmp_path_factory.mktemp("contract")
    if database_kind() == "postgresql":
        url = session_postgres(request).create_database(f"contract_{uuid.uuid4().hex[:12]}")
    else:
        url = f"sqlite:///{directory / 'flowdesk.db'}"
    for args in (["db", "upgrade"], ["flowdesk", "seed-demo"]):
        run_cli(url, *args)
    port = free_port()
    env = flowdesk_env(
        url,
        DISPATCHER="inline",
        ATTACHMENTS_DIR=str(directory / "files"),
        API_AUTH_RATE_LIMIT="1000000 per minute",  # the ignored_auth check calls without tokens
    )
    processes = Processes(directory)
    argv = [sys.executable, "-m", "flask", "--app", "wsgi", "flowdesk", "serve"]
    server = processes.start("web", [*argv, "--host", "127.0.0.1", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base, server, "flowdesk serve")
        yield base
    finally:
        processes.stop_all()
        if server.returncode not in (0, -15):
            print(processes.output())


@pytest.mark.parametrize("user", ["admin", "requester", "it_agent"])  # an agent has tasks
def test_every_operation_answers_as_documented(platform, user, tmp_path):
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{platform}/api/v1/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer demo-{user}",
        "--seed",
        SEED,
        "--max-examples",
        "30",
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=1800,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,  # its .schemathesis cache stays out of the checkout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30000:]
    assert f"Selected: {OPERATIONS}/{OPERATIONS}" in output and f"Tested: {OPERATIONS}" in output
    assert "Server error" not in output and "violates schema" not in output
