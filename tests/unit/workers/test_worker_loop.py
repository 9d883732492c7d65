"""`python -m workers`: an RQ loop that ends for any reason but a shutdown is started again."""

import signal

import fakeredis
import pytest
from rq import SimpleWorker

import workers.__main__ as main


class FakeApp:
    config = {"QUEUE_NAME": "flowdesk-test"}


class EndsEarly(SimpleWorker):
    """A real RQ worker whose loop returns twice without a shutdown (as on a Redis timeout), and
    gets SIGTERM while it waits for a job the third time."""

    runs = 0

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        EndsEarly.runs += 1
        if EndsEarly.runs > 3:
            raise SystemExit("the loop was started again after SIGTERM")  # RQ re-raises it
        if EndsEarly.runs == 3:
            self.request_stop(signal.SIGTERM, None)  # what RQ's handler does: idle, so it raises
        return None  # the loop ends as if Redis timed out


class StoppedMidJob(SimpleWorker):
    """SIGTERM during a job: RQ lets the job finish and leaves its loop on the next turn."""

    runs = 0

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        StoppedMidJob.runs += 1
        if StoppedMidJob.runs > 1:
            raise SystemExit("the loop was started again after SIGTERM")  # RQ re-raises it
        self.set_state("busy")
        self.request_stop(signal.SIGTERM, None)
        return None


@pytest.fixture(autouse=True)
def default_signal_handlers():
    """RQ's handlers replace the test process's own; put them back."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_a_loop_that_ends_without_a_shutdown_starts_again(monkeypatch, caplog):
    monkeypatch.setattr(main.time, "sleep", lambda seconds: None)
    EndsEarly.runs = 0

    main._work(FakeApp(), fakeredis.FakeRedis(), burst=False, worker_class=EndsEarly)

    assert EndsEarly.runs == 3
    assert caplog.text.count("the RQ loop ended without a shutdown") == 2


def test_sigterm_while_idle_ends_the_worker(monkeypatch):
    """An idle worker's loop ends by StopRequested and RQ leaves `_stop_requested` unset: this
    once started the loop again, so `kill` never stopped an idle worker."""
    monkeypatch.setattr(main.time, "sleep", lambda seconds: None)
    EndsEarly.runs = 2
    main._work(FakeApp(), fakeredis.FakeRedis(), burst=False, worker_class=EndsEarly)
    assert EndsEarly.runs == 3


def test_sigterm_during_a_job_ends_the_worker_after_it(monkeypatch):
    monkeypatch.setattr(main.time, "sleep", lambda seconds: None)
    StoppedMidJob.runs = 0
    main._work(FakeApp(), fakeredis.FakeRedis(), burst=False, worker_class=StoppedMidJob)
    assert StoppedMidJob.runs == 1


def test_a_burst_run_ends_with_its_loop(monkeypatch):
    EndsEarly.runs = 0
    main._work(FakeApp(), fakeredis.FakeRedis(), burst=True, worker_class=EndsEarly)
    assert EndsEarly.runs == 1


def test_the_poller_outlives_any_error_but_ctrl_c(monkeypatch):
    calls = []

    def poll(app, dispatch, holder):
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit("a script's")
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        raise KeyboardInterrupt

    monkeypatch.setattr(main, "poll", poll)
    monkeypatch.setattr(main.time, "sleep", lambda seconds: None)

    with pytest.raises(KeyboardInterrupt):
        main._poll_forever(FakeApp(), None, 0.01)
    assert len(calls) == 3
