"""Redis stops while requests keep arriving and jobs are pending; it comes back empty."""

import random

import pytest

from tests.faults.support import assert_applied_once, deploy_probe, job_rows, start_many
from tests.stack import get_instance, query, wait_for

pytestmark = pytest.mark.faults
BEFORE, DURING = 10, 10  # instances started before and during the outage
WORKER_SETTINGS = {"JOB_STALE_SECONDS": 1}


def test_redis_outage_loses_no_job_and_the_backlog_drains_when_it_is_back(
    remote, own_redis, stack_on_own_redis
):
    stack = stack_on_own_redis
    remote.hold = lambda call: random.uniform(0.05, 0.2)
    web, _ = stack.serve()
    requester = web.as_user("requester")
    offering = deploy_probe(web.as_user("designer"), remote)
    workers = [stack.start_worker(**WORKER_SETTINGS) for _ in range(2)]
    started = start_many(requester, offering, [f"before{n}" for n in range(BEFORE)])
    held = wait_for(remote.claim_held_call, 60, interval=0.02, what="an operation in flight")

    own_redis.stop()  # while a worker is inside an operation; nothing is saved: the queue is gone
    held.release.set()
    started.update(start_many(requester, offering, [f"during{n}" for n in range(DURING)]))
    pending = query(stack.database_url, "SELECT count(*) FROM job WHERE status = 'queued'")
    assert pending[0][0] >= DURING  # the jobs are in the database, their wake-ups nowhere
    own_redis.start()

    exits = []  # worker processes that ended meanwhile; a supervisor would start them again

    def drained():
        for process in [w for w in workers if w.poll() is not None]:
            exits.append(process.returncode)
            workers.remove(process)
            workers.append(stack.start_worker(**WORKER_SETTINGS))
        statuses = {get_instance(requester, i)["status"] for i in started.values()}
        assert "error" not in statuses
        return statuses == {"complete"}

    wait_for(drained, 90, interval=0.5, what="the backlog to drain")
    assert_applied_once(remote, {(ref, step) for ref in started for step in (1, 2)})
    jobs = job_rows(stack.database_url, started.values())
    assert len(jobs) == 2 * len(started)
    assert {status for _, _, status, _ in jobs} == {"done"}
    assert not exits, f"workers exited with {exits} when Redis went away; the test restarted them"
