"""Failing operations: retries in the history, failed steps in the API, a bulk retry of 50."""

from collections import Counter

import pytest

from tests.faults.support import assert_applied_once, deploy_probe, start_many
from tests.stack import Api, event_kinds, get_instance, wait_for, wait_for_all, wait_for_status

pytestmark = pytest.mark.faults
BULK = 50


def _failed_steps(agent: Api, query: str = "") -> dict:
    reply = agent.get(f"/api/v1/failed-steps?page_size=200{query}")
    assert reply.status == 200, reply.text
    return reply.body


def test_operation_failing_three_times_then_succeeding_completes_with_its_retries_visible(
    remote, stack
):
    calls: Counter[str] = Counter()

    def fail_the_first_step_three_times(call) -> int:
        calls[call.key] += 1
        return 503 if call.json["step"] == 1 and calls[call.key] <= 3 else 200

    remote.status_for = fail_the_first_step_three_times
    web = stack.app()
    offering = deploy_probe(web.as_user("designer"), remote)
    stack.start_worker(RETRY_BASE_SECONDS=0.2)  # 0.2, 0.4, 0.8 s (±20 %); 4 attempts by default
    requester = web.as_user("requester")

    started = start_many(requester, offering, ["flaky"])

    done = wait_for_status(requester, started["flaky"], "complete")
    retries = [e for e in done["events"] if e["kind"] == "job_retry"]
    assert [(e["bpmn_id"], e["payload"]["attempt"]) for e in retries] == [
        ("apply_one", 1),
        ("apply_one", 2),
        ("apply_one", 3),
    ]
    assert all("HTTP 503" in e["payload"]["error"] for e in retries)
    assert event_kinds(done).count("job_done") == 2
    assert "step_failed" not in event_kinds(done)
    assert sorted(calls.values()) == [1, 4]  # the first step's key four times, the second's once
    assert_applied_once(remote, {("flaky", 1), ("flaky", 2)})


def test_operation_that_always_fails_becomes_a_failed_step_listed_by_the_api(remote, stack):
    remote.status_for = lambda call: 503
    web = stack.app()
    offering = deploy_probe(web.as_user("designer"), remote)
    stack.start_worker(RETRY_BASE_SECONDS=0.1)
    requester, agent = web.as_user("requester"), web.as_user("it_agent")

    started = start_many(requester, offering, ["doomed"])

    failed = wait_for_status(requester, started["doomed"], "error")
    kinds = event_kinds(failed)
    assert kinds.count("job_retry") == 3 and kinds[-1] == "step_failed", kinds
    listed = _failed_steps(agent)
    assert listed["total"] == 1
    (failed,) = listed["items"]
    assert failed["instance_id"] == started["doomed"]
    assert failed["offering_key"] == offering
    assert failed["bpmn_id"] == "apply_one"
    assert failed["operation"] == "http.request"
    assert failed["attempts"] == 4
    assert failed["error"] == f"POST {remote.url}/effect: HTTP 503"
    assert failed["params"]["json"] == {"ref": "doomed", "step": 1}
    assert remote.applied == {}
    assert web.as_user("requester").get("/api/v1/failed-steps").status == 403


def test_bulk_retry_of_50_failed_steps_resolves_them_once_the_service_answers(remote, stack):
    remote.status_for = lambda call: 503
    web = stack.app()
    designer, requester = web.as_user("designer"), web.as_user("requester")
    bulk = deploy_probe(designer, remote, key="bulk_probe")
    other = deploy_probe(designer, remote, key="other_probe")
    stack.start_worker(JOB_MAX_ATTEMPTS=1)  # the first failure fails the step
    agent = web.as_user("it_agent")
    refs = [f"b{n:02d}" for n in range(BULK)]
    started = start_many(requester, bulk, refs)
    bystander = start_many(requester, other, ["o"])["o"]
    wait_for(
        lambda: _failed_steps(agent)["total"] == BULK + 1, 60, interval=0.5, what="51 failed steps"
    )

    remote.status_for = lambda call: 200
    reply = agent.post("/api/v1/failed-steps/retry", json={"filter": {"offering": bulk}})

    assert reply.status == 200, reply.text
    assert len(reply.body) == BULK
    assert {outcome["outcome"] for outcome in reply.body} == {"ok"}
    done = wait_for_all(requester, list(started.values()), "complete", timeout=90)
    for instance in done:
        assert event_kinds(instance).count("step_retried") == 1
        assert event_kinds(instance).count("job_done") == 2
    assert_applied_once(remote, {(ref, step) for ref in refs for step in (1, 2)})
    assert _failed_steps(agent, f"&offering={bulk}")["total"] == 0
    remaining = _failed_steps(agent)
    assert [(i["instance_id"], i["offering_key"]) for i in remaining["items"]] == [
        (bystander, other)
    ]
    assert get_instance(requester, bystander)["status"] == "error"
