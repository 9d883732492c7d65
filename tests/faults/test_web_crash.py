"""The web process dies between the commit that created jobs and their enqueue."""

import pytest
import requests

from tests.faults.support import assert_applied_once, deploy_probe, job_rows
from tests.stack import (
    LAPTOP,
    ONBOARDING_DATA,
    complete_task,
    event_kinds,
    query,
    start_instance,
    wait_for_status,
)

pytestmark = pytest.mark.faults
CRASH_EXIT_CODE = 17  # workers.dispatch.CrashingDispatcher


def _crashes(process, send) -> None:
    """`send` gets no answer: the web process exits with the fault hook's code."""
    with pytest.raises(requests.ConnectionError):
        send()
    assert process.wait(30) == CRASH_EXIT_CODE


def _last_instance_id(database_url: str) -> int:
    return query(database_url, "SELECT max(id) FROM process_instance")[0][0]


def test_jobs_committed_by_a_web_process_that_died_before_enqueueing_them_still_run(remote, stack):
    web, process = stack.serve_single(FAULT_CRASH_BEFORE_ENQUEUE=1)
    offering = deploy_probe(web.as_user("designer"), remote)  # creates no job: no crash
    onboarding = start_instance(web.as_user("hr"), "new_hire_onboarding", ONBOARDING_DATA)
    assert onboarding["status"] == "user_input_required"  # no job yet: no crash

    _crashes(process, lambda: start_instance(web.as_user("requester"), offering, {"ref": "a"}))
    probe_id = _last_instance_id(stack.database_url)
    assert job_rows(stack.database_url, [probe_id]) == [(probe_id, "apply_one", "queued", 0)]

    web, process = stack.serve_single(FAULT_CRASH_BEFORE_ENQUEUE=1)
    approve = {"manager_approved": True}
    _crashes(
        process,
        lambda: complete_task(web.as_user("manager"), onboarding, "manager_approval", approve),
    )
    assert job_rows(stack.database_url, [onboarding["id"]]) == [
        (onboarding["id"], "create_accounts", "queued", 0)
    ]

    web, _ = stack.serve()
    stack.start_worker(JOB_STALE_SECONDS=1)
    requester, hr = web.as_user("requester"), web.as_user("hr")

    probe = wait_for_status(requester, probe_id, "complete")
    assert event_kinds(probe).count("job_done") == 2
    assert_applied_once(remote, {("a", 1), ("a", 2)})
    approved = wait_for_status(hr, onboarding["id"], "user_input_required")
    assert {t["bpmn_id"] for t in approved["open_tasks"]} == {"prepare_laptop"}
    complete_task(web.as_user("it_agent"), approved, "prepare_laptop", LAPTOP)
    done = wait_for_status(hr, onboarding["id"], "complete")
    assert done["outcome"] == "done"
    accounts = query(stack.database_url, "SELECT username, vpn_profile FROM directory_account")
    assert accounts == [("wei.zhang", "staff")]
