"""Store-opening IT readiness end to end: plan review by IT leads, three regional steps."""

import pytest

from tests.api.support import (
    assert_problem,
    complete,
    complete_ok,
    drain,
    get_instance,
    inbox,
    open_task,
    start_store_opening,
)

REGIONAL_STEPS = {
    "network_line": {
        "line_provider": "china_telecom",
        "line_id": "CT-CD-0871",
        "bandwidth_mbps": 200,
    },
    "pos_setup": {"pos_terminals": 4, "pos_tested": True},
    "cctv_setup": {"cameras": 12, "recorder_serial": "DS7608-2026A1234"},
}


def approve_plan(app, as_user, instance: dict) -> dict:
    review = open_task(instance, "plan_review")
    assert review["candidate_group"] == "it_leads"
    assert [t["task_id"] for t in inbox(as_user("manager"))] == [review["task_id"]]
    body = complete_ok(as_user("manager"), review["task_id"], {"plan_approved": True})
    drain(app)
    return body


@pytest.mark.parametrize("region", ["north", "east", "south", "west"])
def test_approved_plan_routes_three_steps_to_the_regional_group(app, as_user, region):
    instance = start_store_opening(as_user("requester"), region=region)

    body = approve_plan(app, as_user, instance)

    assert body["status"] == "user_input_required"
    steps = {t["bpmn_id"]: t for t in body["open_tasks"]}
    assert set(steps) == set(REGIONAL_STEPS)
    assert {t["candidate_group"] for t in steps.values()} == {f"it_{region}"}
    agent_inbox = {t["task_id"] for t in inbox(as_user("it_agent"))}
    assert agent_inbox == {t["task_id"] for t in steps.values()}
    assert inbox(as_user("manager")) == []
    assert inbox(as_user("requester")) == []


def test_store_opening_completes_when_all_regional_steps_are_done(app, as_user):
    requester, agent = as_user("requester"), as_user("it_agent")
    instance = start_store_opening(requester)
    body = approve_plan(app, as_user, instance)
    steps = {t["bpmn_id"]: t["task_id"] for t in body["open_tasks"]}

    for bpmn_id in ("network_line", "pos_setup"):
        partial = complete_ok(agent, steps[bpmn_id], REGIONAL_STEPS[bpmn_id])
        assert partial["status"] == "user_input_required"
    last = complete_ok(agent, steps["cctv_setup"], REGIONAL_STEPS["cctv_setup"])
    assert last["status"] == "running"  # announce_ready is a job
    drain(app)

    final = get_instance(requester, instance["id"])
    assert final["status"] == "complete"
    assert final["outcome"] == "done"
    assert final["open_tasks"] == []
    assert inbox(agent) == []
    completed_by = {
        e["bpmn_id"]: e["actor"] for e in final["events"] if e["kind"] == "task_completed"
    }
    assert completed_by == {
        "plan_review": "manager",
        "network_line": "it_agent",
        "pos_setup": "it_agent",
        "cctv_setup": "it_agent",
    }
    assert ("job_done", "announce_ready") in [(e["kind"], e["bpmn_id"]) for e in final["events"]]
    assert final["events"][-1]["kind"] == "completed"


def test_regional_step_validates_its_form(app, as_user):
    instance = start_store_opening(as_user("requester"))
    body = approve_plan(app, as_user, instance)
    network = open_task(body, "network_line")

    response = complete(
        as_user("it_agent"),
        network["task_id"],
        {"line_provider": "china_telecom", "line_id": "X", "bandwidth_mbps": 5},
    )

    assert "bandwidth_mbps" in assert_problem(response, 422, "invalid_input")["errors"]


def test_rejected_plan_ends_rejected(app, as_user):
    requester = as_user("requester")
    instance = start_store_opening(requester)
    review = open_task(instance, "plan_review")

    body = complete_ok(
        as_user("manager"),
        review["task_id"],
        {"plan_approved": False, "plan_comment": "Opening date not confirmed."},
    )
    assert body["open_tasks"] == []
    drain(app)

    final = get_instance(requester, instance["id"])
    assert final["status"] == "complete"
    assert final["outcome"] == "rejected"
    assert inbox(as_user("it_agent")) == []
    assert [e["kind"] for e in final["events"]] == [
        "started",
        "task_completed",
        "job_done",
        "completed",
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("store_id", "0123"),
        ("region", "central"),
        ("contact_phone", "call me"),
        ("opening_date", ""),
    ],
)
def test_invalid_store_request_is_422(as_user, field, value):
    response = as_user("requester").post(
        "/api/v1/instances",
        json={
            "offering": "store_opening_it_readiness",
            "data": {
                "store_id": "S0123",
                "store_name": "X",
                "region": "west",
                "address": "Y",
                "opening_date": "2099-06-01",
                field: value,
            },
        },
    )
    assert field in assert_problem(response, 422, "invalid_input")["errors"]
