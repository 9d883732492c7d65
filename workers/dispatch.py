"""Hand job rows to workers after commit: RQ (scale-out), an in-process thread, or a recorder.

The job row is the truth and the queue only a wake-up: a sweep re-sends queued jobs whose
wake-up was lost (Redis down at commit time, process killed between commit and enqueue).
"""

import heapq
import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import select

from engine import service
from engine.errors import Unavailable
from engine.models import Job, db, utcnow
from workers import jobs
from workers.operations import OPERATIONS

log = logging.getLogger(__name__)
OPERATION_NAMES = frozenset(OPERATIONS)


class RecordingDispatcher:
    """Records job ids instead of running them (API tests)."""

    def __init__(self):
        self.job_ids: list[int] = []

    def __call__(self, job_ids: list[int]) -> None:
        self.job_ids.extend(job_ids)


class RQDispatcher:
    """Enqueue one RQ job per job row, with retries and backoff left to RQ."""

    def __init__(
        self, redis_url: str, queue_name: str, retry_intervals: list[int], max_attempts: int
    ):
        from redis import Redis
        from rq import Queue

        self.queue = Queue(queue_name, connection=Redis.from_url(redis_url))
        self.retry_intervals = [int(i) for i in retry_intervals]
        self.max_retries = max(int(max_attempts) - 1, 0)

    def __call__(self, job_ids: list[int]) -> None:
        from redis.exceptions import RedisError
        from rq import Retry

        for job_id in job_ids:
            try:
                self.queue.enqueue(
                    "workers.jobs.run_job",
                    job_id,
                    job_id=f"flowdesk-job-{job_id}",
                    retry=Retry(max=self.max_retries, interval=self.retry_intervals)
                    if self.max_retries
                    else None,
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                )
            except RedisError as exc:  # the row stays queued; the sweep re-sends it
                log.warning("job %s not enqueued (%s); the sweep will retry", job_id, exc)


class InlineWorker:
    """The embedded default: one background thread runs jobs, retries and due timers."""

    def __init__(self, app, poll_seconds: float = 1.0):
        self.app, self.poll_seconds = app, poll_seconds
        self._ready: list[tuple[float, int]] = []  # heap of (due monotonic time, job id)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def __call__(self, job_ids: list[int]) -> None:
        with self._cond:
            for job_id in job_ids:
                heapq.heappush(self._ready, (time.monotonic(), job_id))
            self._cond.notify()
        self.ensure_started()

    def ensure_started(self) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="flowdesk-worker", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        last_poll = 0.0
        while not self._stopping:
            job_id = self._next_job(timeout=self.poll_seconds)
            if job_id is not None:
                self._run(job_id)
            if time.monotonic() - last_poll >= self.poll_seconds:
                last_poll = time.monotonic()
                poll(self.app, self)

    def _next_job(self, timeout: float) -> int | None:
        with self._cond:
            if not self._ready or self._ready[0][0] > time.monotonic():
                wait = (
                    timeout
                    if not self._ready
                    else min(timeout, self._ready[0][0] - time.monotonic())
                )
                self._cond.wait(max(wait, 0))
            if self._ready and self._ready[0][0] <= time.monotonic():
                return heapq.heappop(self._ready)[1]
        return None

    def _run(self, job_id: int) -> None:
        with self.app.app_context():
            try:
                jobs.execute_job(job_id, config=self.app.config, dispatch=self)
            except Unavailable:
                attempt = db.session.get(Job, job_id).attempts
                intervals = self.app.config["RETRY_INTERVALS"]
                delay = float(intervals[min(attempt, len(intervals)) - 1])
                with self._cond:
                    heapq.heappush(self._ready, (time.monotonic() + delay, job_id))
            except Exception:  # already recorded on the instance by execute_job
                log.exception("job %s failed", job_id)


def poll(app, dispatch) -> None:
    """Fire due timers and re-send queued jobs whose wake-up was lost."""
    stale_after = float(app.config["JOB_STALE_SECONDS"])
    with app.app_context():
        for instance_id in service.due_timer_instances():
            try:
                jobs.wake(instance_id, dispatch=dispatch)
            except Exception:  # noqa: BLE001 - recorded by mark_failed; the poller goes on
                log.exception("instance %s: timer wake-up failed", instance_id)
                service.mark_failed(instance_id, RuntimeError("timer wake-up failed"))
        cutoff = utcnow() - timedelta(seconds=stale_after)
        stale = db.session.scalars(
            select(Job.id).where(Job.status == "queued", Job.updated_at < cutoff).limit(500)
        ).all()
        if stale:
            db.session.query(Job).filter(Job.id.in_(stale)).update(
                {Job.updated_at: utcnow()}, synchronize_session=False
            )
            db.session.commit()
            dispatch(list(stale))
        db.session.rollback()


def make_dispatcher(app):
    """Build the dispatcher named by DISPATCHER: 'inline', 'rq' or 'record'."""
    kind = app.config["DISPATCHER"]
    if kind == "rq" or (kind == "auto" and app.config.get("REDIS_URL")):
        return RQDispatcher(
            app.config["REDIS_URL"],
            app.config["QUEUE_NAME"],
            retry_intervals=app.config["RETRY_INTERVALS"],
            max_attempts=app.config["JOB_MAX_ATTEMPTS"],
        )
    if kind in ("inline", "auto"):
        return InlineWorker(app, poll_seconds=float(app.config["TIMER_POLL_SECONDS"]))
    if kind == "record":
        return RecordingDispatcher()
    raise ValueError(f"unknown DISPATCHER {kind!r} (inline, rq, record, auto)")
