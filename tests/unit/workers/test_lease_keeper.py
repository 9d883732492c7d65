"""One lease keeper per worker process renews every running job's lease, and stops at the end."""

import threading
import time

from flask import Flask

from workers.jobs import LeaseKeeper


class Renewals:
    def __init__(self, answer=True):
        self.calls: list[int] = []
        self.answer = answer
        self.seen = threading.Condition()

    def __call__(self, job_id, attempt, *, lease_seconds):
        with self.seen:
            self.calls.append(job_id)
            self.seen.notify_all()
        return self.answer

    def wait_for(self, job_id, count, timeout=30):
        with self.seen:
            renewed = self.seen.wait_for(lambda: self.calls.count(job_id) >= count, timeout)
            assert renewed, self.calls


def keepers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lease-keeper" and t.is_alive()]


def test_one_thread_renews_the_leases_of_two_running_jobs_until_they_end():
    renewals, before = Renewals(), len(keepers())
    keeper = LeaseKeeper(renew=renewals)
    with Flask(__name__).app_context():
        with keeper.kept(1, 1, 0.15), keeper.kept(2, 1, 0.15):
            renewals.wait_for(1, 2)
            renewals.wait_for(2, 2)
            assert len(keepers()) == before + 1
        ended = len(renewals.calls)
        time.sleep(0.5)  # three more lease thirds: nothing renews a job that ended
    assert len(renewals.calls) <= ended + 2  # at most the renewals already under way at the end


def test_a_lease_another_worker_took_is_no_longer_renewed():
    renewals = Renewals(answer=False)
    keeper = LeaseKeeper(renew=renewals)
    with Flask(__name__).app_context(), keeper.kept(7, 1, 0.15):
        renewals.wait_for(7, 1)
        time.sleep(0.5)
    assert renewals.calls == [7]
