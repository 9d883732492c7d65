"""RQ job functions and the job runner shared by RQ workers and the in-process worker.

Jobs take ids and load fresh state; running one twice is harmless: begin_job leases only queued
jobs (or ones whose worker died), and a result for a step that no longer waits is a no-op.
"""

import logging
import threading
import time
from contextlib import contextmanager

from flask import current_app

from engine.automation import service as automation
from engine.automation.service import RetryPolicy
from engine.bpmn import runtime
from engine.db import db
from engine.errors import BusinessError, Conflict, ProcessFailed, Unavailable
from engine.instances import service as instances
from workers.operations import OPERATIONS, SETTINGS, OperationContext

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 5
CHAIN_LIMIT = 8  # steps a worker runs in a row for one request before it hands back to the queue
_APP = None  # set by `python -m workers` before the work loop


def set_worker_app(app) -> None:
    global _APP
    _APP = app


def worker_app():
    if _APP is None:
        raise RuntimeError("workers.jobs used outside `python -m workers`: call set_worker_app()")
    return _APP


class _Chain:
    """A dispatch that keeps the first job a finished step leads to, for this worker to run next.

    The others go to the queue at once, so parallel branches still spread over the workers. The
    kept job's row is committed `queued` like any other: if this worker dies before leasing it, the
    poller sends it again (the same path as a wake-up lost between commit and enqueue).
    """

    def __init__(self, dispatch):
        self.dispatch, self.kept = dispatch, None

    def __call__(self, job_ids: list[int]) -> None:
        job_ids = list(job_ids)
        if self.kept is None and job_ids:
            self.kept = job_ids.pop(0)
        if job_ids:
            self.dispatch(job_ids)

    def take(self) -> int | None:
        kept, self.kept = self.kept, None
        return kept


def execute_job(job_id: int, *, config, dispatch, operations=OPERATIONS) -> str:
    """Run a job, then the next automated steps of its request in the same pass (app context).

    When a step's outcome makes another service task of the same request ready, this worker runs
    it at once, under the same lease and idempotency rules, instead of a round trip through the
    queue; after CHAIN_LIMIT steps the next one goes to the queue. Returns what became of the
    first job: done, retry, failed, caught, or skipped (nothing to do).
    """
    chain = _Chain(dispatch)
    try:
        outcome = _execute_one(job_id, config=config, dispatch=chain, operations=operations)
        for _ in range(CHAIN_LIMIT):
            next_id = chain.take()
            if next_id is None:
                break
            _execute_one(next_id, config=config, dispatch=chain, operations=operations)
    finally:  # a step that raised, or the chain's end: what is still kept goes to the queue
        left = chain.take()
        if left is not None:
            dispatch([left])
    return outcome


def _execute_one(job_id: int, *, config, dispatch, operations) -> str:
    """Run one job's operation and hand the outcome to its instance."""
    job = automation.begin_job(job_id, lease_seconds=float(config["JOB_LEASE_SECONDS"]))
    if job is None:
        return "skipped"
    attempt = job.attempts  # read now: the row may be leased again while we work
    context = OperationContext(
        job_id=job.id,
        instance_id=job.instance_id,
        attempt=job.attempts,
        config={k: config.get(k) for k in SETTINGS},
    )
    operation, params = operations.get(job.operation), dict(job.params)
    try:
        if operation is None:
            raise ProcessFailed(f"unknown operation '{job.operation}'")
        with _lease_kept(job.id, attempt, float(config["JOB_LEASE_SECONDS"])):
            result = operation(params, context)
    except BusinessError as exc:
        db.session.rollback()  # drop whatever the operation left half done in the session
        error = exc  # the name `exc` is unbound when the except block ends
        return _with_conflict_retry(
            lambda: automation.throw_job_error(
                job_id, error, dispatch=dispatch, policy=retry_policy(config)
            )
        )
    except ProcessFailed as exc:
        return _failed(job, attempt, config, exc.detail, None, transient=False)
    except Unavailable as exc:
        return _failed(job, attempt, config, exc.detail, None, transient=True)
    except BaseException as exc:  # the job wrapper: anything else is a failed attempt
        if isinstance(exc, KeyboardInterrupt):
            raise  # the worker is being stopped by hand: the lease brings the job back
        log.exception("instance %s: operation %s raised", job.instance_id, job.operation)
        trace = runtime.format_exception(exc)
        return _failed(job, attempt, config, f"{type(exc).__name__}: {exc}", trace, transient=True)
    _with_conflict_retry(lambda: automation.finish_job(job_id, result, dispatch=dispatch))
    return "done"


class LeaseKeeper:
    """One thread per worker process that renews the leases of the jobs running in it.

    A job whose lease cannot be renewed (another worker took it after a pause longer than the
    lease) is dropped from the set: its result will then be refused as stale.
    """

    def __init__(self, renew=None):
        self._renew = renew or automation.renew_lease
        self._held: dict[int, tuple[int, float, float]] = {}  # job -> attempt, lease, next due
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._app = None

    @contextmanager
    def kept(self, job_id: int, attempt: int, lease_seconds: float):
        """Renew the job's lease every third of it while the block runs."""
        with self._changed:
            self._app = current_app._get_current_object()
            self._held[job_id] = (attempt, lease_seconds, time.monotonic() + lease_seconds / 3)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._held.pop(job_id, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [(j, a, s) for j, (a, s, at) in self._held.items() if at <= now]
                if not due:
                    soonest = min((at for _, _, at in self._held.values()), default=None)
                    self._changed.wait(None if soonest is None else soonest - now)
                    continue
                app = self._app
            for job_id, attempt, lease_seconds in due:
                try:
                    with app.app_context():
                        renewed = self._renew(job_id, attempt, lease_seconds=lease_seconds)
                except Exception:  # the database is away: try again at the next third
                    log.exception("lease of job %s not renewed", job_id)
                    renewed = True
                with self._changed:
                    if job_id in self._held:
                        if renewed:
                            self._held[job_id] = (attempt, lease_seconds,
                                                  time.monotonic() + lease_seconds / 3)  # fmt: skip
                        else:
                            del self._held[job_id]


_KEEPER = LeaseKeeper()


def _lease_kept(job_id: int, attempt: int, lease_seconds: float):
    """Renew the job's lease while the operation runs, so only a dead worker loses it."""
    return _KEEPER.kept(job_id, attempt, lease_seconds)


def retry_policy(config) -> RetryPolicy:
    """The retry settings (FLOWDESK_JOB_MAX_ATTEMPTS, _RETRY_BASE_SECONDS, _RETRY_MAX_SECONDS)."""
    return RetryPolicy(
        max_attempts=int(config["JOB_MAX_ATTEMPTS"]),
        base_seconds=float(config["RETRY_BASE_SECONDS"]),
        max_seconds=float(config["RETRY_MAX_SECONDS"]),
    )


def _failed(job, attempt, config, error: str, trace: str | None, *, transient: bool) -> str:
    db.session.rollback()  # drop whatever the operation left half done in the session
    return _with_conflict_retry(
        lambda: automation.job_failed(
            job.id,
            error,
            traceback=trace,
            transient=transient,
            policy=retry_policy(config),
            attempt=attempt,
        )
    )


def wake(instance_id: int, *, dispatch) -> None:
    """Fire due timers of one instance (app context required)."""
    _with_conflict_retry(lambda: instances.wake_instance(instance_id, dispatch=dispatch))


def _with_conflict_retry(unit):
    for attempt in range(CONFLICT_RETRIES):
        try:
            return unit()
        except Conflict:
            if attempt == CONFLICT_RETRIES - 1:
                raise
            log.info("conflict, retrying (%s)", attempt + 1)


def run_job(job_id: int) -> None:
    """RQ entry point: run a job in the worker's app."""
    app = worker_app()
    with app.app_context():
        execute_job(job_id, config=app.config, dispatch=app.extensions["flowdesk"].dispatch)
