"""Units of work for automated steps: run a job, retry it, raise or resolve an incident.

The job row is the truth. A worker leases a job (begin_job), calls the operation outside any
transaction, then hands the outcome back here. A transient failure schedules the next attempt
with exponential backoff and jitter; when attempts run out, the job becomes an incident (status
`failed`) and the instance shows `error` until an operator retries, skips or cancels.
"""

import random
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from engine import access, runtime, store
from engine.errors import BusinessError, Conflict, InvalidInput, NotFound, ProcessFailed
from engine.models import Job, ProcessInstance, SchedulerLease, User, db, utcnow, write_unit

OPEN_JOB_STATES = ("queued", "running", "retry")


@write_unit
def begin_job(job_id: int, *, lease_seconds: float) -> Job | None:
    """Lease a queued job to this worker and count the attempt; None when there is nothing to do.

    A running job whose lease is still valid belongs to another worker: also None.
    """
    job = db.session.get(Job, job_id, with_for_update=True)
    now = utcnow()
    runnable = job is not None and (
        job.status == "queued" or (job.status == "running" and job.lease_until < now)
    )
    if not runnable:
        db.session.rollback()
        return None
    job.status, job.attempts, job.updated_at = "running", job.attempts + 1, now
    job.lease_until = now + timedelta(seconds=lease_seconds)
    db.session.commit()
    return job


@write_unit
def finish_job(
    job_id: int, result, *, dispatch: store.Dispatch, skipped_by: User | None = None
) -> bool:
    """Hand a result to the job's service task and run the instance on.

    `skipped_by` marks an operator resolving an incident with a result of their own. A result for
    a job already finished, or for a step that no longer waits, is a no-op (False).
    """
    job, instance = _lock_job(job_id)
    allowed = ("failed",) if skipped_by else OPEN_JOB_STATES
    if job is None or job.status not in allowed:
        db.session.rollback()
        return False
    job.status = "skipped" if skipped_by else "done"
    job.result, job.updated_at, job.lease_until = store.json_safe(result), utcnow(), None
    if instance.status in store.TERMINAL:
        store.commit()
        return False
    workflow = store.load_workflow(instance)
    failure = None
    try:
        applied = runtime.complete_service_step(workflow, job.task_id, job.result)
    except ProcessFailed as exc:
        applied, failure = True, exc
    if not applied:
        store.commit()
        return False
    store.add_event(
        instance,
        "incident_skipped" if skipped_by else "job_done",
        skipped_by,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "attempts": job.attempts},
    )
    store.save(instance, workflow, dispatch, failure=failure)
    return True


def _lock_job(job_id: int) -> tuple[Job | None, ProcessInstance | None]:
    """Lock a job's instance, then the job itself: always in that order (no deadlocks)."""
    job = db.session.get(Job, job_id)
    if job is None:
        return None, None
    instance = store.lock_instance(job.instance_id)
    db.session.refresh(job, with_for_update=True)
    return job, instance


@write_unit
def renew_lease(job_id: int, attempt: int, *, lease_seconds: float) -> bool:
    """Extend a running job's lease (the worker is alive); False if it is no longer ours."""
    renewed = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running", Job.attempts == attempt)
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    ).rowcount
    db.session.commit()
    return bool(renewed)


def retry_delay(job: Job, *, base_seconds: float, max_seconds: float) -> float:
    """Exponential backoff with ±20 % jitter: base · backoff^(attempt-1), capped."""
    backoff = job.backoff_base or 2.0
    delay = min(base_seconds * backoff ** max(job.attempts - 1, 0), max_seconds)
    return delay * random.uniform(0.8, 1.2)


@write_unit
def job_failed(
    job_id: int,
    error: str,
    *,
    traceback: str | None,
    transient: bool,
    max_attempts: int,
    delay: float,
    attempt: int | None = None,
) -> str:
    """Record a failed attempt: schedule a retry, or raise an incident. Returns the new status.

    `attempt` is the attempt that failed: if the job has been leased again since (its worker
    was presumed dead), the late failure changes nothing.
    """
    job, instance = _lock_job(job_id)
    if job is None or job.status != "running" or attempt not in (None, job.attempts):
        db.session.rollback()
        return job.status if job else "missing"
    limit = job.max_attempts or max_attempts
    job.error, job.traceback, job.updated_at, job.lease_until = (
        error[:4000],
        traceback,
        utcnow(),
        None,
    )
    if transient and job.attempts < limit:
        job.status, job.run_at = "retry", utcnow() + timedelta(seconds=delay)
        store.add_event(
            instance,
            "job_retry",
            None,
            bpmn_id=job.bpmn_id,
            payload={
                "operation": job.operation,
                "attempt": job.attempts,
                "next_in_seconds": round(delay, 1),
                "error": error[:500],
            },
        )
        store.commit()
        return "retry"
    job.status = "failed"
    store.add_event(
        instance,
        "incident",
        None,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "attempts": job.attempts, "error": error[:500]},
    )
    if instance.status not in store.TERMINAL:
        instance.status = runtime.InstanceStatus.ERROR
        instance.updated_at = utcnow()
    store.commit()
    return "failed"


@write_unit
def throw_job_error(job_id: int, error: BusinessError, *, dispatch: store.Dispatch) -> str:
    """Route a business error to the service task's error boundary event, else an incident."""
    job = db.session.get(Job, job_id)
    if job is None or job.status != "running":
        db.session.rollback()
        return "ignored"
    instance = store.lock_instance(job.instance_id)
    workflow = store.load_workflow(instance)
    code = error.extra["error_code"]
    payload = {"code": code, "message": error.detail}
    failure = None
    try:
        caught = runtime.throw_error(workflow, job.task_id, code, payload)
    except ProcessFailed as exc:
        caught, failure = True, exc
    if not caught:
        db.session.rollback()
        return job_failed(
            job_id,
            f"{code}: {error.detail}",
            traceback=None,
            transient=False,
            max_attempts=1,
            delay=0,
        )
    job.status, job.error, job.updated_at, job.lease_until = "done", error.detail, utcnow(), None
    store.add_event(
        instance,
        "job_error_caught",
        None,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "error_code": code},
    )
    store.save(instance, workflow, dispatch, failure=failure)
    return "caught"


@write_unit
def retry_incident(job_id: int, *, user: User, dispatch: store.Dispatch) -> None:
    """Run a failed job again from a fresh attempt count.

    Raises:
        NotFound: no such incident. Conflict: the job is not an open incident.
    """
    job, instance = _incident(job_id, user)
    job.status, job.attempts, job.run_at, job.updated_at = "queued", 0, None, utcnow()
    store.add_event(
        instance,
        "incident_retried",
        user,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation},
    )
    _refresh_status(instance)
    store.commit()
    dispatch([job.id])


@write_unit
def skip_incident(job_id: int, result, *, user: User, dispatch: store.Dispatch) -> None:
    """Resolve an incident by supplying the operation's result by hand; the instance goes on.

    Raises:
        InvalidInput: the result is not a JSON object. NotFound / Conflict: as retry_incident.
    """
    if not isinstance(result, dict):
        raise InvalidInput(
            "The result must be a JSON object.", errors={"result": ["Not an object."]}
        )
    _incident(job_id, user)
    finish_job(job_id, result, dispatch=dispatch, skipped_by=user)


def _incident(job_id: int, user: User) -> tuple[Job, ProcessInstance]:
    access.check_can_operate(user)
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound(f"incident {job_id}")
    instance = store.lock_instance(job.instance_id)
    db.session.refresh(job)
    if job.status != "failed":
        raise Conflict(f"job {job_id} is {job.status}, not an open incident")
    if instance.status in store.TERMINAL:
        raise Conflict(f"instance {instance.id} is already {instance.status}")
    return job, instance


def _refresh_status(instance: ProcessInstance) -> None:
    if instance.status == runtime.InstanceStatus.ERROR and not store.has_incident(instance.id):
        instance.status = runtime.status_of(store.load_workflow(instance))


def cancel_jobs(instance_id: int) -> None:
    """Mark an instance's unfinished jobs cancelled (in the caller's transaction)."""
    db.session.execute(
        update(Job)
        .where(Job.instance_id == instance_id, Job.status.in_((*OPEN_JOB_STATES, "failed")))
        .values(status="cancelled", updated_at=utcnow(), lease_until=None)
    )


def incidents_query(*, offering=None, operation=None, error=None):
    """Open incidents, oldest first, filtered by offering, operation and error text."""
    query = (
        select(Job)
        .join(ProcessInstance, ProcessInstance.id == Job.instance_id)
        .where(Job.status == "failed")
    )
    if offering:
        query = query.where(ProcessInstance.offering_key == offering)
    if operation:
        query = query.where(Job.operation == operation)
    if error:
        query = query.where(Job.error.contains(error))
    return query.order_by(Job.updated_at, Job.id)


@write_unit
def release_due_work(*, stale_seconds: float, limit: int = 500) -> tuple[list[int], list[int]]:
    """Queue due retries and jobs whose worker died; return (ids to send, ids possibly lost).

    The second list holds queued jobs untouched for `stale_seconds`: their wake-up may have been
    lost (queue down at commit time, process killed between commit and enqueue).
    """
    now = utcnow()
    due = db.session.scalars(
        select(Job.id)
        .where(
            ((Job.status == "retry") & (Job.run_at <= now))
            | ((Job.status == "running") & (Job.lease_until < now))
        )
        .order_by(Job.run_at, Job.id)
        .limit(limit)
    ).all()
    if due:
        db.session.execute(
            update(Job).where(Job.id.in_(due)).values(status="queued", updated_at=now, run_at=None)
        )
    stale = db.session.scalars(
        select(Job.id)
        .where(Job.status == "queued", Job.updated_at < now - timedelta(seconds=stale_seconds))
        .order_by(Job.created_at, Job.id)
        .limit(limit)
    ).all()
    if stale:
        db.session.execute(update(Job).where(Job.id.in_(stale)).values(updated_at=now))
    db.session.commit()
    return list(due), list(stale)


@write_unit
def hold_lease(name: str, holder: str, *, ttl_seconds: float) -> bool:
    """Take or renew a named lease (e.g. the poller's); False while another holder has it."""
    now = utcnow()
    lease = db.session.get(SchedulerLease, name, with_for_update=True)
    if lease is None:
        db.session.add(SchedulerLease(name=name, holder=holder, expires_at=now))
        lease = db.session.get(SchedulerLease, name)
    elif lease.holder != holder and lease.expires_at > now:
        db.session.rollback()
        return False
    lease.holder, lease.expires_at = holder, now + timedelta(seconds=ttl_seconds)
    try:
        db.session.commit()
    except (IntegrityError, OperationalError):  # another process took it at the same moment
        db.session.rollback()
        return False
    return True
