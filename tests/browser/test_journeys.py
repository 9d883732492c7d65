"""Browser tier: the platform served for real, driven by headless Chromium (playwright-core).

The clicking lives in journeys.mjs (Node, playwright-core from npm, Debian's /usr/bin/chromium);
this module serves a fresh platform (migrated and seeded SQLite, in-process worker) and runs it
once per language. Screenshots land in tests/artifacts/ (ignored by git).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "journeys.mjs"
POLISH = Path(__file__).resolve().parent / "polish.mjs"
POLISHED = (
    "catalog",
    "form-errors",
    "timeline",
    "my-requests",
    "inbox",
    "task",
    "console",
    "failed-steps",
)
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT = ROOT / "node_modules" / "playwright-core"
SCREENSHOTS = (
    "catalog",
    "form-errors",
    "inbox",
    "task-approval",
    "diagram",
    "timeline-done",
    "timeline-rejected",
    "my-requests",
    "catalog-phone",
    "failed-step-correct",
    "failed-step-resolved",
    "camunda-task",
)

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    if not PLAYWRIGHT.exists():
        return "node_modules/playwright-core is missing (npm ci)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def demo_server(tmp_path_factory, name: str, *setup: list[str]):
    """`flowdesk serve` on a fresh demo database (plus `setup` commands), yielding its URL."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp(name)
    env = {
        **os.environ,
        "FLOWDESK_DEMO": "1",
        "FLOWDESK_DATABASE_URL": f"sqlite:///{folder / 'flowdesk.db'}",
        "FLOWDESK_ATTACHMENTS_DIR": str(folder / "files"),
        "FLOWDESK_REDIS_URL": "",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (["db", "upgrade"], ["flowdesk", "seed-demo", "--no-requests"], *setup):
        subprocess.run(
            flask + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
        )
    port = _free_port()
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        flask + ["flowdesk", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/login", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(tmp_path_factory, "browser")


def _node(script: Path, server: str, lang: str) -> str:
    result = subprocess.run(
        ["node", str(script), server, str(ARTIFACTS), lang],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return result.stdout


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_requester_and_approver_journeys(server, lang):
    stdout = _node(SCRIPT, server, lang)
    assert f"[{lang}] journeys passed" in stdout, stdout
    for name in SCREENSHOTS:
        shot = ARTIFACTS / f"{lang}-{name}.png"
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_day_one_defects_phones_and_accessibility(server, lang):
    stdout = _node(POLISH, server, lang)
    assert f"[{lang}] polish passed" in stdout, stdout
    for size in ("desktop", "phone"):
        for name in POLISHED:
            shot = ARTIFACTS / f"{lang}-{size}-{name}.png"
            assert shot.stat().st_size > 10_000, f"{shot} looks empty"
