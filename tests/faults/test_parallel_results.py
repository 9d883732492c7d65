"""Two parallel service tasks of one instance finish on two workers at the same moment."""

import threading

import pytest

from tests.faults.support import assert_applied_once, deploy_probe, start_many
from tests.stack import event_kinds, wait_for_all

pytestmark = pytest.mark.faults
INSTANCES = 100


def test_both_results_of_parallel_steps_finishing_together_are_kept_every_time(remote, stack):
    barrier = threading.Barrier(2, timeout=20)
    arrivals: list[tuple[str, str]] = []  # (ref, branch) in the order the calls arrived

    def hold_until_the_other_arrives(call) -> float:
        arrivals.append((call.json["ref"], call.json["branch"]))
        barrier.wait()  # two calls in flight at once, answered at the same moment
        return 0.0

    remote.hold = hold_until_the_other_arrives
    web, _ = stack.serve()
    offering = deploy_probe(web.as_user("designer"), remote, "parallel_effect")
    refs = [f"p{n:03d}" for n in range(INSTANCES)]
    stack.wait_until_listening([stack.start_worker() for _ in range(2)])

    started = start_many(web.as_user("requester"), offering, refs)  # queued a1 b1 a2 b2 ...

    try:
        done = wait_for_all(web.as_user("requester"), list(started.values()), "complete", 180)
    finally:
        barrier.abort()

    for instance in done:
        ref = instance["data"]["ref"]
        for branch in ("a", "b"):
            answer = {"applied": {"ref": ref, "branch": branch}}
            assert instance["data"][f"result_{branch}"] == {"status": 200, "body": answer}
        assert event_kinds(instance).count("job_done") == 2, instance["events"]
    assert_applied_once(remote, {(ref, branch) for ref in refs for branch in ("a", "b")})
    assert sum(remote.redelivered.values()) == 0
    # two workers, one barrier: the calls were answered in pairs, each pair one instance's steps
    pairs = [set(arrivals[i : i + 2]) for i in range(0, len(arrivals), 2)]
    assert pairs == [{(ref, "a"), (ref, "b")} for ref in refs]
