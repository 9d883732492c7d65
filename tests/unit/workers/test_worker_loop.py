"""`python -m workers`: an RQ loop that ends for any reason but a shutdown is started again."""

import fakeredis
import pytest

import workers.__main__ as main


class FakeApp:
    config = {"QUEUE_NAME": "flowdesk-test"}


class EndsEarly:
    """An RQ worker whose loop returns twice without a shutdown, then is stopped (SIGTERM)."""

    runs = 0

    def __init__(self, queues, connection):
        self._stop_requested = False

    def work(self, burst, logging_level):
        EndsEarly.runs += 1
        if EndsEarly.runs == 3:
            self._stop_requested = True


def test_a_loop_that_ends_without_a_shutdown_starts_again(monkeypatch, caplog):
    monkeypatch.setattr(main.time, "sleep", lambda seconds: None)
    EndsEarly.runs = 0

    main._work(FakeApp(), fakeredis.FakeRedis(), burst=False, worker_class=EndsEarly)

    assert EndsEarly.runs == 3
    assert caplog.text.count("the RQ loop ended without a shutdown") == 2


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
