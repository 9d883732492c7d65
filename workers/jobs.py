"""RQ job functions and the job runner shared by RQ workers and the in-process worker.

Jobs take ids and load fresh state; running one twice is harmless (begin_job skips finished
jobs, finish_job ignores results for steps that no longer wait).
"""

import logging

from engine import runtime, service
from engine.errors import Conflict, ProcessFailed, Unavailable
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


def execute_job(job_id: int, *, config, dispatch, operations=OPERATIONS) -> None:
    """Run one job's operation and hand the result back to its instance (app context required).

    Raises:
        Unavailable: a transient failure with attempts left; the caller schedules a retry.
    """
    job = service.begin_job(job_id)
    if job is None:
        return
    context = OperationContext(
        job_id=job.id,
        instance_id=job.instance_id,
        attempt=job.attempts,
        config={k: config.get(k) for k in OPERATION_SETTINGS},
    )
    operation, params, attempts = operations.get(job.operation), dict(job.params), job.attempts
    try:
        if operation is None:
            raise ProcessFailed(f"unknown operation '{job.operation}'")
        result = operation(params, context)
    except Unavailable as exc:
        if attempts < int(config.get("JOB_MAX_ATTEMPTS", 4)):
            service.retry_job_later(job_id, exc.detail)
            raise
        service.fail_job(job_id, f"gave up after {attempts} attempts: {exc.detail}")
        return
    except ProcessFailed as exc:
        service.fail_job(job_id, exc.detail)
        return
    except Exception as exc:  # the job wrapper: record on the instance, keep RQ's traceback
        service.fail_job(job_id, runtime.format_exception(exc))
        raise
    _with_conflict_retry(lambda: service.finish_job(job_id, result, dispatch=dispatch))


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


def wake_instance(instance_id: int) -> None:
    """RQ entry point: fire due timers of an instance."""
    app = worker_app()
    with app.app_context():
        wake(instance_id, dispatch=app.extensions["flowdesk"].dispatch)
