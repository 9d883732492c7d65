"""Which lost wake-ups the RQ dispatcher sends again (fakeredis: the decision, not the server)."""

import fakeredis
import pytest
from rq.job import Job as RQJob
from rq.job import JobStatus

from workers.dispatch import RQDispatcher


@pytest.fixture
def dispatcher() -> RQDispatcher:
    return RQDispatcher("redis://unused", "flowdesk", connection=fakeredis.FakeStrictRedis())


def set_status(dispatcher: RQDispatcher, job_id: int, status: JobStatus) -> None:
    job = RQJob.fetch(f"flowdesk-job-{job_id}", connection=dispatcher.connection)
    job.set_status(status)


def test_a_job_still_waiting_in_the_queue_is_not_sent_twice(dispatcher):
    dispatcher([1])
    dispatcher.resend([1])
    assert dispatcher.queue.job_ids == ["flowdesk-job-1"]


def test_a_job_redis_never_received_is_sent(dispatcher):
    dispatcher.resend([2])
    assert dispatcher.queue.job_ids == ["flowdesk-job-2"]


@pytest.mark.parametrize("status", [JobStatus.STARTED, JobStatus.FINISHED, JobStatus.FAILED])
def test_a_wake_up_taken_by_a_worker_that_never_leased_the_row_is_sent_again(dispatcher, status):
    # The row is still 'queued' in the database, so whoever took this wake-up died before
    # begin_job, or a poller died between re-queueing a dead worker's row and enqueueing it.
    dispatcher([3])
    dispatcher.queue.pop_job_id()
    set_status(dispatcher, 3, status)
    dispatcher.resend([3])
    assert dispatcher.queue.job_ids == ["flowdesk-job-3"]
    assert RQJob.fetch("flowdesk-job-3", connection=dispatcher.connection).get_status() == "queued"


def test_a_wake_up_popped_by_a_worker_killed_before_it_started_the_job_is_sent_again(dispatcher):
    # RQ pops the id, then marks the job started: a kill in between leaves it 'queued', in no list
    dispatcher([5])
    dispatcher.queue.pop_job_id()
    assert RQJob.fetch("flowdesk-job-5", connection=dispatcher.connection).get_status() == "queued"
    dispatcher.resend([5])
    assert dispatcher.queue.job_ids == ["flowdesk-job-5"]


def test_an_unreachable_queue_leaves_the_rows_for_the_next_round(caplog):
    server = fakeredis.FakeServer()
    connection = fakeredis.FakeStrictRedis(server=server)
    dispatcher = RQDispatcher("redis://unused", "flowdesk", connection=connection)
    server.connected = False
    dispatcher.resend([4])
    assert "queue unreachable" in caplog.text
    server.connected = True
    assert dispatcher.queue.job_ids == []
