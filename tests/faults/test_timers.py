"""Timers that fall due while every process is down fire once each after the restart."""

from datetime import UTC, datetime

import pytest

from tests.faults.support import assert_applied_once, deploy_probe
from tests.stack import event_kinds, query, start_instance, wait_for, wait_for_all

pytestmark = pytest.mark.faults
INSTANCES = 8
SETTINGS = {"POLLER_LEASE_SECONDS": 3}  # the killed poller's lease lapses soon after the restart


def _statuses(database_url: str) -> set[tuple]:
    return set(query(database_url, "SELECT status, next_timer_at IS NULL FROM process_instance"))


def test_timers_due_while_everything_was_down_fire_once_after_the_restart(remote, stack):
    web, gunicorn = stack.serve(**SETTINGS)
    workers = [stack.start_worker(**SETTINGS) for _ in range(2)]
    offering = deploy_probe(web.as_user("designer"), remote, "timer_effect")
    refs = [f"t{n}" for n in range(INSTANCES)]
    started = [start_instance(web.as_user("requester"), offering, {"ref": ref}) for ref in refs]
    for process in (gunicorn, *workers):  # kill -9, well before the first timer is due
        stack.processes.kill(process)
    assert {instance["status"] for instance in started} == {"waiting"}
    due = max(datetime.fromisoformat(i["next_timer_at"]).replace(tzinfo=UTC) for i in started)
    wait_for(lambda: datetime.now(UTC) > due, 10, what="every timer to be overdue")
    assert _statuses(stack.database_url) == {("waiting", False)}  # overdue, and nobody fired

    web, _ = stack.serve(**SETTINGS)
    for _ in range(2):
        stack.start_worker(**SETTINGS)

    ids = [instance["id"] for instance in started]
    done = wait_for_all(web.as_user("requester"), ids, "complete", timeout=60)
    for instance in done:
        assert instance["outcome"] == "done"
        assert event_kinds(instance).count("timer_fired") == 1, instance["events"]
        assert event_kinds(instance).count("job_done") == 1, instance["events"]
    assert_applied_once(remote, {(ref, 1) for ref in refs})
