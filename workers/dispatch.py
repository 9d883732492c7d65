"""Hand job rows to workers after commit: RQ (scale-out), an in-process thread, or a recorder.

The job row is the truth and the queue only carries wake-ups. The poller (one active process at a
time, by a lease in the database) fires due timers, queues due retries and jobs whose worker died,
and re-sends queued jobs whose wake-up was lost (queue down at commit, process killed after it).
"""

import heapq
import logging
import os
import socket
import threading
import time
from pathlib import Path

from engine.automation import service as automation
from engine.instances import service as instances
from workers import jobs

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 600  # uploads no request took are deleted after a day; look every 10 min
_last_purge = {"at": 0.0}


class RecordingDispatcher:
    """Records job ids instead of running them (API tests)."""

    def __init__(self):
        self.job_ids: list[int] = []

    def __call__(self, job_ids: list[int]) -> None:
        self.job_ids.extend(job_ids)

    def resend(self, job_ids: list[int]) -> None:
        self(job_ids)


class RQDispatcher:
    """Enqueue one RQ job per job row; retries are scheduled by the database, not by RQ."""

    def __init__(self, redis_url: str, queue_name: str, *, connection=None):
        from redis import Redis
        from rq import Queue

        self.connection = connection or Redis.from_url(
            redis_url, socket_timeout=5, socket_connect_timeout=2
        )
        self.queue = Queue(queue_name, connection=self.connection)

    def __call__(self, job_ids: list[int]) -> None:
        from redis.exceptions import RedisError

        for job_id in job_ids:
            try:
                self.queue.enqueue(
                    "workers.jobs.run_job",
                    job_id,
                    job_id=f"flowdesk-job-{job_id}",
                    result_ttl=0,  # the outcome is in the database; keep no result in Redis
                    failure_ttl=7 * 86400,
                    job_timeout=600,
                )
            except RedisError as exc:  # the row stays queued; the poller re-sends it
                log.warning("job %s not enqueued (%s); the poller will re-send it", job_id, exc)

    def resend(self, job_ids: list[int]) -> None:
        """Re-enqueue stale queued rows unless their wake-up still waits in the queue.

        A wake-up waits when its id is in the queue's list, whatever its job's hash says: a worker
        killed between popping the id and marking the job started leaves it 'queued' in no list.
        An RQ job 'started' on a row that is still 'queued' is lost as well: its worker died
        before leasing the row, or a poller died between re-queueing a dead worker's row and
        enqueueing it. Sending one wake-up too many is harmless (begin_job leases once).
        """
        from redis.exceptions import RedisError

        def waiting(job_id: int) -> bool:
            return self.connection.lpos(self.queue.key, f"flowdesk-job-{job_id}") is not None

        try:
            lost = [i for i in job_ids if not waiting(i)]
        except RedisError as exc:
            log.warning("queue unreachable (%s); %s queued job(s) wait", exc, len(job_ids))
            return
        if lost:
            log.info("re-sending %s job(s) whose wake-up was lost", len(lost))
            self(lost)


class InlineWorker:
    """The embedded default: one background thread runs jobs and the poller."""

    def __init__(self, app, poll_seconds: float = 1.0):
        self.app, self.poll_seconds = app, poll_seconds
        self._ready: list[int] = []
        self._pending: set[int] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.beat = self.polled = time.monotonic()
        self.errors = 0

    def __call__(self, job_ids: list[int]) -> None:
        with self._cond:
            for job_id in job_ids:
                if job_id not in self._pending:
                    self._pending.add(job_id)
                    heapq.heappush(self._ready, job_id)
            self._cond.notify()
        self.ensure_started()

    def resend(self, job_ids: list[int]) -> None:
        self(job_ids)

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
            self.beat = time.monotonic()
            try:
                job_id = self._next_job()
                if job_id is not None:
                    with self.app.app_context():
                        jobs.execute_job(job_id, config=self.app.config, dispatch=self)
                if time.monotonic() - last_poll >= self.poll_seconds:
                    last_poll = time.monotonic()
                    poll(self.app, self, holder=f"inline-{os.getpid()}")
                    self.polled = time.monotonic()
            except BaseException as exc:  # the job wrapper: the thread outlives any one failure
                if isinstance(exc, KeyboardInterrupt):
                    raise
                log.exception("the in-process worker caught an error; it goes on")
                self.errors += 1
                time.sleep(min(self.poll_seconds, 1.0))

    def health(self) -> list[str]:
        """What is wrong with the in-process worker: [] when its thread runs and polls."""
        if self._thread is None:
            return []  # not started yet (no job so far): nothing to watch
        problems = []
        stale = max(30.0, 10 * self.poll_seconds)
        if not self._thread.is_alive():
            problems.append("the in-process worker thread has stopped")
        elif time.monotonic() - self.beat > stale:
            problems.append("the in-process worker is stuck")
        elif self.polled and time.monotonic() - self.polled > stale:
            problems.append("the in-process poller has not polled lately")
        return problems

    def _next_job(self) -> int | None:
        with self._cond:
            if not self._ready:
                self._cond.wait(self.poll_seconds)
            if not self._ready:
                return None
            job_id = heapq.heappop(self._ready)
            self._pending.discard(job_id)
            return job_id


class CrashingDispatcher:
    """Fault injection for tests: the process dies between commit and enqueue."""

    def __call__(self, job_ids: list[int]) -> None:
        os._exit(17)

    def resend(self, job_ids: list[int]) -> None:
        os._exit(17)


def poller_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def poll(app, dispatch, *, holder: str) -> bool:
    """One round of the poller; False when another process holds the poller lease."""
    with app.app_context():
        lease = float(app.config["POLLER_LEASE_SECONDS"])
        if not automation.hold_lease("poller", holder, ttl_seconds=lease):
            return False
        for instance_id in instances.due_timer_instances():
            jobs.wake(instance_id, dispatch=dispatch)
        due, maybe_lost = automation.release_due_work(
            stale_seconds=float(app.config["JOB_STALE_SECONDS"])
        )
        if due:
            dispatch(due)
        if maybe_lost:
            dispatch.resend(maybe_lost)
        if time.monotonic() - _last_purge["at"] > PURGE_EVERY_SECONDS:
            _last_purge["at"] = time.monotonic()
            instances.purge_unclaimed_uploads(storage=Path(app.config["ATTACHMENTS_DIR"]))
    return True


def make_dispatcher(app):
    """Build the dispatcher named by DISPATCHER: 'auto', 'inline', 'rq' or 'record'."""
    kind = app.config["DISPATCHER"]
    if app.config.get("FAULT_CRASH_BEFORE_ENQUEUE"):
        return CrashingDispatcher()
    if kind == "rq" or (kind == "auto" and app.config.get("REDIS_URL")):
        return RQDispatcher(app.config["REDIS_URL"], app.config["QUEUE_NAME"])
    if kind in ("inline", "auto"):
        return InlineWorker(app, poll_seconds=float(app.config["TIMER_POLL_SECONDS"]))
    if kind == "record":
        return RecordingDispatcher()
    raise ValueError(f"unknown DISPATCHER {kind!r} (auto, inline, rq, record)")
