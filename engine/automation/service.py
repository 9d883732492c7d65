"""Units of work for automated steps: run a job, retry it, fail it, and resolve a failed step.

The job row is the truth. A worker leases a job (begin_job), calls the operation outside any
transaction, then hands the outcome back here. A transient failure schedules the next attempt
with exponential backoff and jitter; when attempts run out, the step has failed (job status
`failed`) and the request shows `error` until an operator retries it, corrects its input data and
retries it, supplies its result (skip), or cancels the request.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.automation.models import SchedulerLease
from engine.bpmn import runtime
from engine.catalog import reads as catalog
from engine.db import db, is_row_id, utcnow, write_unit
from engine.errors import (
    BusinessError,
    Conflict,
    InvalidInput,
    NotFound,
    PlatformError,
    ProcessFailed,
)
from engine.identity import roles
from engine.identity.models import User
from engine.instances import access, intake, store
from engine.instances.models import (
    OPEN_JOBS,
    EventKind,
    InstanceStatus,
    Job,
    JobKind,
    JobStatus,
    ProcessInstance,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a transiently failing operation runs again (settings)."""

    max_attempts: int = 4  # unless the service task's `retry` extension says otherwise
    base_seconds: float = 10.0
    max_seconds: float = 3600.0

    def delay(self, job: Job) -> float:
        """Exponential backoff with ±20 % jitter: base · backoff^(attempt-1), capped."""
        backoff = job.backoff_base or 2.0
        delay = min(self.base_seconds * backoff ** max(job.attempts - 1, 0), self.max_seconds)
        return delay * random.uniform(0.8, 1.2)

    def attempts_for(self, job: Job) -> int:
        return job.max_attempts or self.max_attempts


@write_unit
def begin_job(job_id: int, *, lease_seconds: float) -> Job | None:
    """Lease a queued job to this worker and count the attempt; None when there is nothing to do.

    A running job whose lease is still valid belongs to another worker: also None.
    """
    job = db.session.get(Job, job_id, with_for_update=True)
    now = utcnow()
    runnable = job is not None and (
        job.status == JobStatus.QUEUED
        or (job.status == JobStatus.RUNNING and job.lease_until < now)
    )
    if not runnable:
        db.session.rollback()
        return None
    job.status, job.attempts, job.updated_at = JobStatus.RUNNING, job.attempts + 1, now
    job.lease_until = now + timedelta(seconds=lease_seconds)
    db.session.commit()
    return job


@write_unit
def finish_job(job_id: int, result, *, dispatch: store.Dispatch) -> bool:
    """Hand a worker's result to the job's service task and run the instance on.

    A result for a job already finished, or for a step that no longer waits, is a no-op (False).
    """
    job, instance = _lock_job(job_id)
    if job is None or job.status not in OPEN_JOBS:
        db.session.rollback()
        return False
    return _apply_result(job, instance, result, JobStatus.DONE, EventKind.JOB_DONE, None, dispatch)


def _apply_result(job, instance, result, status, kind, actor, dispatch) -> bool:
    job.status = status
    job.result, job.updated_at, job.lease_until = store.json_safe(result), utcnow(), None
    if instance.is_finished:
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
        kind,
        actor,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "attempts": job.attempts},
    )
    store.save(instance, workflow, dispatch, failure=failure)
    return True


def _lock_job(job_id: int) -> tuple[Job | None, ProcessInstance | None]:
    """Lock a job's instance, then the job itself: always in that order (no deadlocks)."""
    job = db.session.get(Job, job_id) if is_row_id(job_id) else None
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
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.attempts == attempt)
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    ).rowcount
    db.session.commit()
    return bool(renewed)


@write_unit
def job_failed(
    job_id: int,
    error: str,
    *,
    traceback: str | None,
    transient: bool,
    policy: RetryPolicy,
    attempt: int | None = None,
) -> JobStatus | str:
    """Record a failed attempt: schedule a retry, or fail the step. Returns the new status.

    `attempt` is the attempt that failed: if the job has been leased again since (its worker
    was presumed dead), the late failure changes nothing.
    """
    job, instance = _lock_job(job_id)
    if job is None or job.status != JobStatus.RUNNING or attempt not in (None, job.attempts):
        db.session.rollback()
        return job.status if job else "missing"
    job.error, job.traceback = error[:4000], traceback
    job.updated_at, job.lease_until = utcnow(), None
    if transient and job.attempts < policy.attempts_for(job):
        delay = policy.delay(job)
        job.status, job.run_at = JobStatus.RETRY, utcnow() + timedelta(seconds=delay)
        store.add_event(
            instance,
            EventKind.JOB_RETRY,
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
        return JobStatus.RETRY
    job.status = JobStatus.FAILED
    store.add_event(
        instance,
        EventKind.STEP_FAILED,
        None,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "attempts": job.attempts, "error": error[:500]},
    )
    if not instance.is_finished:
        instance.status = InstanceStatus.ERROR
        instance.updated_at = utcnow()
    store.commit()
    return JobStatus.FAILED


@write_unit
def throw_job_error(
    job_id: int, error: BusinessError, *, dispatch: store.Dispatch, policy: RetryPolicy
) -> str:
    """Route a business error to the service task's error boundary event, else fail the step."""
    job = db.session.get(Job, job_id)
    if job is None or job.status != JobStatus.RUNNING:
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
            job_id, f"{code}: {error.detail}", traceback=None, transient=False, policy=policy
        )
    job.status, job.error, job.updated_at, job.lease_until = (
        JobStatus.DONE,
        error.detail,
        utcnow(),
        None,
    )
    store.add_event(
        instance,
        EventKind.JOB_ERROR_CAUGHT,
        None,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "error_code": code},
    )
    store.save(instance, workflow, dispatch, failure=failure)
    return "caught"


@write_unit
def retry_failed_step(job_id: int, *, user: User, dispatch: store.Dispatch) -> None:
    """Run a failed step's operation again from a fresh attempt count.

    Raises:
        Forbidden: not an agent or admin. NotFound: no such failed step.
        Conflict: the step is not failed (any more), or the request has finished.
    """
    job, instance = _failed_step(job_id, user)
    if job.kind == JobKind.STEP:
        _rerun_step(job, instance, {}, user=user, dispatch=dispatch)
        return
    _requeue(job)
    store.add_event(
        instance,
        EventKind.STEP_RETRIED,
        user,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation},
    )
    _refresh_status(instance)
    store.commit()
    dispatch([job.id])


def _rerun_step(job: Job, instance: ProcessInstance, changes: dict, *, user, dispatch) -> None:
    """Run a failed engine step again (after its data was corrected); it may fail again."""
    workflow = store.load_workflow(instance)
    failure = None
    try:
        runtime.retry_step(workflow, job.task_id, changes)
    except ProcessFailed as exc:
        failure = exc
    job.status, job.updated_at = JobStatus.DONE, utcnow()
    kind = EventKind.STEP_CORRECTED if changes else EventKind.STEP_RETRIED
    payload = {"operation": job.operation}
    if changes:
        payload["changes"] = sorted(changes)
    store.add_event(instance, kind, user, bpmn_id=job.bpmn_id, payload=payload)
    db.session.flush()  # the resolved row must not keep the request in error
    store.save(instance, workflow, dispatch, failure=failure)


@write_unit
def correct_failed_step(
    job_id: int, changes: dict, *, user: User, dispatch: store.Dispatch
) -> None:
    """Correct the data a failed step reads (e.g. a username that was taken), then retry it.

    The corrected values are checked like the form that first collected them (its schema and
    lookups) and stay in the request's data, so later steps use them too.

    Raises:
        InvalidInput: a field the step does not read, or a value its form refuses.
        Forbidden / NotFound / Conflict: as retry_failed_step.
    """
    job, instance = _failed_step(job_id, user)
    step = catalog.steps(instance.process_version).get(job.bpmn_id)
    readable = set(step.spec.reads) if step else set()
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("Give the fields to correct.", errors={"changes": ["Required."]})
    if job.kind == JobKind.STEP:  # an engine step reads any of the data
        reserved = runtime.reserved_keys(changes)
        if reserved:
            raise InvalidInput(
                "These names are reserved.", errors={k: ["Reserved name."] for k in reserved}
            )
        clean = intake.check_fields(instance.process_version, changes)
        _rerun_step(job, instance, clean, user=user, dispatch=dispatch)
        return
    unknown = sorted(set(changes) - readable)
    if unknown:
        raise InvalidInput(
            "The step does not read these fields.",
            errors={k: ["The step does not read this field."] for k in unknown},
        )
    clean = intake.check_fields(instance.process_version, changes)
    workflow = store.load_workflow(instance)
    before = runtime.step_data(workflow, job.task_id, tuple(clean))
    job.params = store.json_safe(runtime.correct_service_step(workflow, job.task_id, clean))
    _requeue(job)
    changed = {k: {"from": before.get(k), "to": v} for k, v in clean.items() if before.get(k) != v}
    store.add_event(
        instance,
        EventKind.STEP_CORRECTED,
        user,
        bpmn_id=job.bpmn_id,
        payload=store.json_safe({"operation": job.operation, "changes": changed}),
    )
    store.save(instance, workflow, None)
    dispatch([job.id])


def for_each(job_ids: list[int], action) -> list[dict]:
    """Apply a unit of work to each failed step in its own transaction; report each outcome.

    One step that cannot be handled (already retried by someone else, gone) does not stop the
    others: its outcome carries the error's code and detail.
    """
    outcomes = []
    for job_id in job_ids:
        try:
            action(job_id)
            outcomes.append({"id": job_id, "outcome": "ok", "detail": None})
        except PlatformError as exc:
            db.session.rollback()
            outcomes.append({"id": job_id, "outcome": exc.code, "detail": exc.detail})
    return outcomes


def _requeue(job: Job) -> None:
    job.status, job.attempts, job.run_at, job.updated_at = JobStatus.QUEUED, 0, None, utcnow()


@write_unit
def skip_failed_step(job_id: int, result, *, user: User, dispatch: store.Dispatch) -> None:
    """Resolve a failed step by supplying its operation's result by hand; the request goes on.

    Raises:
        InvalidInput: the result is not a JSON object. Forbidden / NotFound / Conflict: as
        retry_failed_step.
    """
    if not isinstance(result, dict):
        raise InvalidInput(
            "The result must be a JSON object.", errors={"result": ["Not an object."]}
        )
    job, instance = _failed_step(job_id, user)
    if job.kind == JobKind.STEP:
        raise Conflict(
            f"step '{job.bpmn_id}' is an engine step, not an operation: retry it, or correct "
            "the data it reads, or cancel the request"
        )
    step = catalog.steps(instance.process_version).get(job.bpmn_id)
    variable = step.spec.result_variable if step else None
    if variable and set(result) == {variable} and isinstance(result[variable], dict):
        result = result[
            variable
        ]  # typed as the data holds it: {"account": {...}}, not nested again
    _apply_result(job, instance, result, JobStatus.SKIPPED, EventKind.STEP_SKIPPED, user, dispatch)


def _failed_step(job_id: int, user: User) -> tuple[Job, ProcessInstance]:
    roles.check_handles_failed_steps(user)
    job, instance = _lock_job(job_id)
    if job is None or not access.handles(user, instance):  # outside the agent's department
        raise NotFound(f"failed step {job_id}")
    if job.status != JobStatus.FAILED:
        raise Conflict(f"job {job_id} is {job.status}, not a failed step")
    if instance.is_finished:
        raise Conflict(f"instance {instance.id} is already {instance.status}")
    return job, instance


def _refresh_status(instance: ProcessInstance) -> None:
    if instance.status == InstanceStatus.ERROR and not store.has_failed_step(instance.id):
        instance.status = runtime.status_of(store.load_workflow(instance))


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
            ((Job.status == JobStatus.RETRY) & (Job.run_at <= now))
            | ((Job.status == JobStatus.RUNNING) & (Job.lease_until < now))
        )
        .order_by(Job.run_at, Job.id)
        .limit(limit)
    ).all()
    if due:
        db.session.execute(
            update(Job)
            .where(Job.id.in_(due))
            .values(status=JobStatus.QUEUED, updated_at=now, run_at=None)
        )
    stale = db.session.scalars(
        select(Job.id)
        .where(
            Job.status == JobStatus.QUEUED,
            Job.updated_at < now - timedelta(seconds=stale_seconds),
        )
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
