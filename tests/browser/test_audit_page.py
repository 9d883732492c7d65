"""Browser tier: the admin's audit log shows a sign-in, a failed sign-in and a download.

A platform of its own (a fresh demo plus an offering whose form takes a file, deployed from
tests/browser/fixtures/), clicked through by audit.mjs in headless Chromium, in both languages.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.test_journeys import ARTIFACTS, ROOT, _free_port, _missing, _node, _wait_until_up

SCRIPT = Path(__file__).resolve().parent / "audit.mjs"
BUNDLE = Path(__file__).resolve().parent / "fixtures" / "expense_receipt"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("browser-audit")
    env = {
        **os.environ,
        "FLOWDESK_DEMO": "1",
        "FLOWDESK_DATABASE_URL": f"sqlite:///{folder / 'flowdesk.db'}",
        "FLOWDESK_ATTACHMENTS_DIR": str(folder / "files"),
        "FLOWDESK_REDIS_URL": "",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (
        ["db", "upgrade"],
        ["flowdesk", "seed-demo", "--no-requests"],
        ["flowdesk", "deploy", "expense_receipt", str(BUNDLE)],
    ):
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


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_audit_log_shows_a_sign_in_a_failed_sign_in_and_a_download(server, lang):
    stdout = _node(SCRIPT, server, lang)
    assert f"[{lang}] audit passed" in stdout, stdout
    for name in ("audit-log", "audit-log-filtered"):
        shot = ARTIFACTS / f"{lang}-{name}.png"
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"
