"""Workers killed with SIGKILL in the middle of operations: no step lost, no effect repeated.

And the other side of the job lease: a worker that is alive keeps its job.
"""

import random
import time
from collections import Counter

import pytest

from tests.faults.support import (
    assert_applied_once,
    deploy_probe,
    job_rows,
    rq_jobs_of_request,
    start_many,
)
from tests.stack import event_kinds, wait_for, wait_for_all

pytestmark = pytest.mark.faults

KILLS = 22
CHAINED_KILLS = 3  # and then kills inside a step run in the pass of the one before
FIRST_INSTANCES = 10
MORE_PER_KILL = 1  # requests keep arriving meanwhile
WORKER_SETTINGS = {"JOB_LEASE_SECONDS": 2, "POLLER_LEASE_SECONDS": 2}
LEASE_SECONDS = 1  # the slow-operation test's lease; its call takes three times as long


def test_workers_killed_mid_operation_lose_no_step_and_apply_no_effect_twice(remote, stack):
    remote.hold = lambda call: random.uniform(0.05, 0.3)  # the remote is slowish
    web, _ = stack.serve()
    requester = web.as_user("requester")
    offering = deploy_probe(web.as_user("designer"), remote)
    refs = iter(f"r{n:03d}" for n in range(1000))
    started = start_many(requester, offering, [next(refs) for _ in range(FIRST_INSTANCES)])
    workers = [stack.start_worker(**WORKER_SETTINGS) for _ in range(2)]
    kills: Counter[str] = Counter()

    chained = "in a step chained to the one before"  # workers.jobs' chain: no queue between
    while kills.total() - kills[chained] < KILLS or kills[chained] < CHAINED_KILLS:
        held = wait_for(remote.claim_held_call, 60, interval=0.02, what="an operation in flight")
        try:
            time.sleep(random.uniform(0, 0.1))  # a random moment inside the call
            running = rq_jobs_of_request(stack.database_url, held.call.key)
            pid = stack.worker_running(running, workers)
            if pid is None:  # the call came from a worker we already killed
                continue
            # the worker's RQ job is the step before's: this step was chained to it
            is_chained = stack.worker_running({held.call.key}, workers) != pid
            if kills.total() - kills[chained] >= KILLS and not is_chained:
                continue  # random kills done: wait for a chained step (its call comes next)
            moment = random.choice(("during the call", "after the answer"))
            if moment == "after the answer":  # the remote acted; the worker may not know yet
                held.release.set()
                held.answered.wait(5)
                time.sleep(random.uniform(0, 0.03))
            victim = next(process for process in workers if process.pid == pid)
            stack.processes.kill(victim)
        finally:
            held.release.set()
        kills[moment] += 1
        kills[chained] += is_chained
        workers.remove(victim)
        workers.append(stack.start_worker(**WORKER_SETTINGS))
        started.update(start_many(requester, offering, [next(refs) for _ in range(MORE_PER_KILL)]))

    try:
        done = wait_for_all(requester, list(started.values()), "complete", timeout=120)
    except AssertionError as exc:  # say which jobs were stuck, for the CI log
        open_jobs = [
            row for row in job_rows(stack.database_url, started.values()) if row[2] != "done"
        ]
        raise AssertionError(
            f"{exc}; jobs not done (instance, step, status, attempts): {open_jobs}"
        ) from exc

    for instance in done:
        assert instance["outcome"] == "done"
        ref = instance["data"]["ref"]
        for step, result in ((1, "one"), (2, "two")):
            answer = {"applied": {"ref": ref, "step": step}}
            assert instance["data"][result] == {"status": 200, "body": answer}
        assert event_kinds(instance).count("job_done") == 2, instance["events"]
    assert_applied_once(remote, {(ref, step) for ref in started for step in (1, 2)})
    jobs = job_rows(stack.database_url, started.values())
    assert len(jobs) == 2 * len(started)  # a killed job runs again; it is never duplicated
    assert {status for _, _, status, _ in jobs} == {"done"}
    # each worker killed inside a call left a job whose call came again under the same key
    assert sum(remote.redelivered.values()) >= kills["during the call"] > 0
    assert kills[chained] >= CHAINED_KILLS, kills


def test_operation_outlasting_its_lease_on_a_live_worker_is_not_run_again(remote, stack):
    # The lease is for workers that went silent (README: "whose worker went silent this long
    # (killed)"); this worker is alive and inside the call the whole time.
    remote.hold = lambda call: 3 * LEASE_SECONDS
    web = stack.app()
    offering = deploy_probe(web.as_user("designer"), remote)
    for _ in range(2):
        stack.start_worker(JOB_LEASE_SECONDS=LEASE_SECONDS)
    requester = web.as_user("requester")

    started = start_many(requester, offering, ["slow"])

    wait_for_all(requester, list(started.values()), "complete", timeout=60)
    assert_applied_once(remote, {("slow", 1), ("slow", 2)})
    assert dict(remote.redelivered) == {}, "a live worker's call was made a second time"
