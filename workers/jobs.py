"""RQ job functions and the job runner shared by RQ workers and the in-process worker.

Jobs take ids and load fresh state; running one twice is harmless: begin_job leases only queued
jobs (or ones whose worker died), and a result for a step that no longer waits is a no-op.
"""

import logging

from engine import automation, runtime, service
from engine.errors import BusinessError, Conflict, ProcessFailed, Unavailable
from engine.models import db
from workers.operations import OPERATIONS, OperationContext

log = logging.getLogger(__name__)
OPERATION_SETTINGS = (
    "HTTP_TIMEOUT",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_STARTTLS",
    "MAIL_FROM",
    "IM_WEBHOOKS",
)
CONFLICT_RETRIES = 5
_APP = None  # set by `python -m workers` before the work loop


def set_worker_app(app) -> None:
    global _APP
    _APP = app


def worker_app():
    if _APP is None:
        raise RuntimeError("workers.jobs used outside `python -m workers`: call set_worker_app()")
    return _APP


def execute_job(job_id: int, *, config, dispatch, operations=OPERATIONS) -> str:
    """Run one job's operation and hand the outcome to its instance (app context required).

    Returns what became of the job: done, retry, failed, caught, or skipped (nothing to do).
    """
    job = automation.begin_job(job_id, lease_seconds=float(config["JOB_LEASE_SECONDS"]))
    if job is None:
        return "skipped"
    context = OperationContext(
        job_id=job.id,
        instance_id=job.instance_id,
        attempt=job.attempts,
        config={k: config.get(k) for k in OPERATION_SETTINGS},
    )
    operation, params = operations.get(job.operation), dict(job.params)
    try:
        if operation is None:
            raise ProcessFailed(f"unknown operation '{job.operation}'")
        result = operation(params, context)
    except BusinessError as exc:
        db.session.rollback()  # drop whatever the operation left half done in the session
        error = exc  # the name `exc` is unbound when the except block ends
        return _with_conflict_retry(
            lambda: automation.throw_job_error(job_id, error, dispatch=dispatch)
        )
    except ProcessFailed as exc:
        return _failed(job, config, exc.detail, None, transient=False)
    except Unavailable as exc:
        return _failed(job, config, exc.detail, None, transient=True)
    except Exception as exc:  # the job wrapper: an unexpected error counts as a failed attempt
        log.exception("instance %s: operation %s raised", job.instance_id, job.operation)
        trace = runtime.format_exception(exc)
        return _failed(job, config, f"{type(exc).__name__}: {exc}", trace, transient=True)
    _with_conflict_retry(lambda: automation.finish_job(job_id, result, dispatch=dispatch))
    return "done"


def _failed(job, config, error: str, trace: str | None, *, transient: bool) -> str:
    db.session.rollback()  # drop whatever the operation left half done in the session
    delay = automation.retry_delay(
        job,
        base_seconds=float(config["RETRY_BASE_SECONDS"]),
        max_seconds=float(config["RETRY_MAX_SECONDS"]),
    )
    return _with_conflict_retry(
        lambda: automation.job_failed(
            job.id,
            error,
            traceback=trace,
            transient=transient,
            max_attempts=int(config["JOB_MAX_ATTEMPTS"]),
            delay=delay,
        )
    )


def wake(instance_id: int, *, dispatch) -> None:
    """Fire due timers of one instance (app context required)."""
    _with_conflict_retry(lambda: service.wake_instance(instance_id, dispatch=dispatch))


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
