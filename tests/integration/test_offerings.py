"""The bundled offerings end to end: the web side records jobs, a `python -m workers` runs them."""

import pytest

from tests.stack import (
    LAPTOP,
    ONBOARDING_DATA,
    STORE_DATA,
    complete_task,
    event_kinds,
    query,
    start_instance,
    wait_for_status,
)


@pytest.mark.integration
def test_onboarding_completes_over_http_with_a_worker_process(stack):
    web, _ = stack.serve()
    stack.start_worker()
    hr, manager, it_agent = web.as_user("hr"), web.as_user("manager"), web.as_user("it_agent")

    started = start_instance(hr, "new_hire_onboarding", ONBOARDING_DATA)
    assert started["status"] == "user_input_required"
    approved = complete_task(manager, started, "manager_approval", {"manager_approved": True})
    complete_task(it_agent, approved, "prepare_laptop", LAPTOP)

    done = wait_for_status(hr, started["id"], "complete")
    assert done["outcome"] == "done"
    assert done["data"]["account"]["username"] == "wei.zhang"
    assert done["data"]["vpn"] == {"username": "wei.zhang", "vpn_profile": "staff", "granted": True}
    jobs_done = [e["bpmn_id"] for e in done["events"] if e["kind"] == "job_done"]
    assert sorted(jobs_done) == ["create_accounts", "grant_vpn", "notify_hr_ready"]
    accounts = query(
        stack.database_url,
        "SELECT username, vpn_profile FROM directory_account WHERE username = ?",
        "wei.zhang",
    )
    assert accounts == [("wei.zhang", "staff")]


def _start_store_opening(web):
    requester, manager = web.as_user("requester"), web.as_user("manager")
    started = start_instance(requester, "store_opening_it_readiness", STORE_DATA)
    assert started["status"] == "user_input_required"
    return requester, manager, started


@pytest.mark.integration
def test_store_opening_completes_when_every_regional_step_is_done(stack):
    web = stack.app()
    stack.start_worker()
    requester, manager, started = _start_store_opening(web)
    it_agent = web.as_user("it_agent")

    current = complete_task(manager, started, "plan_review", {"plan_approved": True})
    assert {t["candidate_group"] for t in current["open_tasks"]} == {"it_west"}
    steps = {
        "network_line": {
            "line_provider": "china_telecom",
            "line_id": "CT-889",
            "bandwidth_mbps": 500,
        },
        "pos_setup": {"pos_terminals": 4, "pos_tested": True},
        "cctv_setup": {"cameras": 12, "recorder_serial": "NVR-1"},
    }
    for bpmn_id, data in steps.items():
        current = complete_task(it_agent, current, bpmn_id, data)

    done = wait_for_status(requester, started["id"], "complete")
    assert done["outcome"] == "done"
    assert done["data"]["ready_im"] == {
        "delivered": False,
        "reason": "channel_not_configured",
        "channel": "store_ops",
    }
    assert event_kinds(done).count("job_done") == 1


@pytest.mark.integration
def test_store_opening_ends_rejected_when_the_plan_is_rejected(stack):
    web = stack.app()
    stack.start_worker()
    requester, manager, started = _start_store_opening(web)

    rejected = complete_task(
        manager, started, "plan_review", {"plan_approved": False, "plan_comment": "No budget"}
    )
    assert rejected["open_tasks"] == []

    done = wait_for_status(requester, started["id"], "complete")
    assert done["outcome"] == "rejected"
    assert done["data"]["rejection_im"]["channel"] == "store_ops"
    assert [e["bpmn_id"] for e in done["events"] if e["kind"] == "job_done"] == [
        "notify_plan_rejected"
    ]
