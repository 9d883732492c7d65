"""Browser tier: the admin's audit log shows a sign-in, a failed sign-in and a download.

A platform of its own (a fresh demo plus an offering whose form takes a file, deployed from
tests/browser/fixtures/), clicked through by audit.mjs in headless Chromium, in both languages.
"""

from pathlib import Path

import pytest

from tests.browser.test_journeys import ARTIFACTS, _node, demo_server

SCRIPT = Path(__file__).resolve().parent / "audit.mjs"
BUNDLE = Path(__file__).resolve().parent / "fixtures" / "expense_receipt"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    deploy = ["flowdesk", "deploy", "expense_receipt", str(BUNDLE)]
    yield from demo_server(tmp_path_factory, "browser-audit", deploy)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_audit_log_shows_a_sign_in_a_failed_sign_in_and_a_download(server, lang):
    stdout = _node(SCRIPT, server, lang)
    assert f"[{lang}] audit passed" in stdout, stdout
    for name in ("audit-log", "audit-log-filtered"):
        shot = ARTIFACTS / f"{lang}-{name}.png"
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"
