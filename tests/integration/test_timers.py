"""Timers are fired by the worker's poller: while it runs, and after a restart when overdue."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.stack import (
    deploy,
    event_kinds,
    fixture_bpmn,
    query,
    start_instance,
    wait_for,
    wait_for_status,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _start_timer_probe(web) -> dict:
    deploy(web.as_user("designer"), "timer_probe", fixture_bpmn(FIXTURES / "timer_probe.bpmn"))
    started = start_instance(web.as_user("requester"), "timer_probe", {})
    assert started["status"] == "waiting"
    assert started["next_timer_at"] is not None
    return started


def _assert_fired_once(done: dict) -> None:
    assert done["outcome"] == "done"
    assert done["data"]["notified"] == {
        "delivered": False,
        "reason": "channel_not_configured",
        "channel": "x",
    }
    assert event_kinds(done).count("timer_fired") == 1
    assert [e["bpmn_id"] for e in done["events"] if e["kind"] == "timer_fired"] == [
        "wait_two_seconds"
    ]


@pytest.mark.integration
def test_timer_fires_while_a_worker_runs(stack):
    web = stack.app()
    stack.start_worker()

    started = _start_timer_probe(web)

    _assert_fired_once(wait_for_status(web.as_user("requester"), started["id"], "complete", 20))


@pytest.mark.integration
def test_overdue_timer_fires_once_when_a_worker_starts_after_a_restart(stack):
    web, gunicorn = stack.serve()
    started = _start_timer_probe(web)  # no worker runs: nobody fires it
    stack.processes.stop(gunicorn)
    due = datetime.fromisoformat(started["next_timer_at"]).replace(tzinfo=UTC)
    wait_for(lambda: datetime.now(UTC) > due, 10, what="the timer to be overdue")
    assert query(
        stack.database_url, "SELECT status FROM process_instance WHERE id = ?", started["id"]
    ) == [("waiting",)]

    web, _ = stack.serve()
    stack.start_worker()

    _assert_fired_once(wait_for_status(web.as_user("requester"), started["id"], "complete", 20))
