"""Jobs on real workers: concurrent results, a lost wake-up, a transiently failing operation."""

import threading
from pathlib import Path

import pytest

from tests.stack import (
    LAPTOP,
    ONBOARDING_DATA,
    complete_task,
    database_is_writable,
    deploy,
    event_kinds,
    fixture_bpmn,
    get_instance,
    query,
    start_instance,
    wait_for,
    wait_for_status,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INSTANCES = 10


def _deploy_http_probe(web, local_service) -> None:
    xml = fixture_bpmn(FIXTURES / "http_probe.bpmn", BASE_URL=local_service.url)
    deploy(web.as_user("designer"), "http_probe", xml)


@pytest.mark.integration
def test_database_stays_writable_while_an_operation_waits_for_its_answer(local_service, stack):
    called, answer = threading.Event(), threading.Event()

    def answer_when_told(call):
        called.set()
        answer.wait(30)
        return 200, {"ok": True}

    local_service.respond = answer_when_told
    web = stack.app()
    _deploy_http_probe(web, local_service)
    stack.start_worker()
    requester = web.as_user("requester")
    started = start_instance(requester, "http_probe", {})

    try:
        wait_for(called.is_set, 30, what="the worker to call the service")
        writable = database_is_writable(stack.database_url, lock_wait_seconds=3)
    finally:
        answer.set()

    assert writable, "a worker holds the SQLite write lock while its operation runs"
    assert wait_for_status(requester, started["id"], "complete")["outcome"] == "done"


@pytest.mark.integration
def test_parallel_service_tasks_finishing_together_keep_both_results(local_service, stack):
    barrier = threading.Barrier(2, timeout=20)

    def answer_together(call):
        barrier.wait()  # both branches of an instance answer at the same moment
        return 200, {"branch": call.json["branch"]}

    local_service.respond = answer_together
    web = stack.app()
    xml = fixture_bpmn(FIXTURES / "parallel_probe.bpmn", BASE_URL=local_service.url)
    deploy(web.as_user("designer"), "parallel_probe", xml)
    requester = web.as_user("requester")
    stack.start_worker()
    stack.start_worker()

    def all_finished():
        bodies = [get_instance(requester, i) for i in ids]
        return bodies if all(b["status"] in ("complete", "error") for b in bodies) else None

    try:
        ids = [start_instance(requester, "parallel_probe", {})["id"] for _ in range(INSTANCES)]
        finished = wait_for(all_finished, 60, interval=0.5, what="every instance to finish")
    finally:
        barrier.abort()

    for instance in finished:
        assert instance["status"] == "complete", instance["events"]
        assert instance["data"]["result_a"] == {"status": 200, "body": {"branch": "a"}}
        assert instance["data"]["result_b"] == {"status": 200, "body": {"branch": "b"}}
        assert event_kinds(instance).count("job_done") == 2
    keys = [call.key for call in local_service.calls]
    assert len(keys) == len(set(keys)) == 2 * INSTANCES  # each operation called exactly once


@pytest.mark.integration
def test_jobs_whose_enqueue_failed_are_resent_by_the_sweep(stack, free_redis_url, caplog):
    web = stack.app(REDIS_URL=free_redis_url)  # nothing listens there
    hr, manager, it_agent = web.as_user("hr"), web.as_user("manager"), web.as_user("it_agent")
    started = start_instance(hr, "new_hire_onboarding", ONBOARDING_DATA)
    approved = complete_task(manager, started, "manager_approval", {"manager_approved": True})
    assert query(stack.database_url, "SELECT operation, status FROM job") == [
        ("directory.create_account", "queued")
    ]
    assert "not enqueued" in caplog.text

    stack.start_worker(JOB_STALE_SECONDS=1)  # the real Redis, the web's database

    wait_for(
        lambda: (
            query(stack.database_url, "SELECT vpn_profile FROM directory_account") == [("staff",)]
        ),
        30,
        what="the swept jobs to create the account and grant VPN",
    )
    complete_task(it_agent, approved, "prepare_laptop", LAPTOP)  # its mail job is lost too
    done = wait_for_status(hr, started["id"], "complete")
    assert done["outcome"] == "done"
    assert query(stack.database_url, "SELECT count(*) FROM directory_account") == [(1,)]


@pytest.mark.integration
def test_transiently_failing_operation_is_retried_until_it_succeeds(local_service, stack):
    answers = iter([(503, {"error": "busy"}), (503, {"error": "busy"})])
    local_service.respond = lambda call: next(answers, (200, {"ok": True}))
    web = stack.app()
    _deploy_http_probe(web, local_service)
    stack.start_worker(RETRY_BASE_SECONDS=0.2)  # then 0.4 s: backoff x2, jitter ±20 %
    requester = web.as_user("requester")

    started = start_instance(requester, "http_probe", {})

    done = wait_for_status(requester, started["id"], "complete")
    assert done["data"]["answer"] == {"status": 200, "body": {"ok": True}}
    retries = [e for e in done["events"] if e["kind"] == "job_retry"]
    assert [e["payload"]["attempt"] for e in retries] == [1, 2]
    assert len(local_service.calls) == 3
    assert len({call.key for call in local_service.calls}) == 1
