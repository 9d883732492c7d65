"""Reading automated work: failed steps and what they read, and counts for monitoring."""

from datetime import timedelta

from sqlalchemy import func, select

from engine.bpmn import runtime
from engine.catalog import reads as catalog
from engine.db import db, is_row_id, utcnow
from engine.errors import NotFound
from engine.instances import store
from engine.instances.models import (
    FAILURE_EVENTS,
    EventKind,
    InstanceEvent,
    InstanceStatus,
    Job,
    JobStatus,
    ProcessInstance,
)

RETRY_EVENTS = (EventKind.STEP_RETRIED, EventKind.STEP_CORRECTED)


def failed_steps_query(*, offering=None, operation=None, error=None, offerings=None):
    """Failed steps (jobs out of attempts), oldest first, by offering, operation and error text.

    `offerings`: only those offerings' steps (an agent's department scope); None for all.
    """
    query = (
        select(Job)
        .join(ProcessInstance, ProcessInstance.id == Job.instance_id)
        .where(Job.status == JobStatus.FAILED)
    )
    if offering:
        query = query.where(ProcessInstance.offering_key == offering)
    if offerings is not None:
        query = query.where(ProcessInstance.offering_key.in_(offerings))
    if operation:
        query = query.where(Job.operation == operation)
    if error:
        query = query.where(Job.error.contains(error))
    return query.order_by(Job.updated_at, Job.id)


def failed_step_ids(*, limit: int, **filters) -> list[int]:
    return list(
        db.session.scalars(failed_steps_query(**filters).with_only_columns(Job.id).limit(limit))
    )


def instance_of(job_id: int) -> int | None:
    """The request a job belongs to, or None for an unknown job."""
    if not is_row_id(job_id):
        return None
    return db.session.scalar(select(Job.instance_id).where(Job.id == job_id))


def failed_instances_query(*, offerings=None):
    """Requests stopped by an error, most recently changed first (of these offerings: None, all)."""
    query = select(ProcessInstance).where(ProcessInstance.status == InstanceStatus.ERROR)
    if offerings is not None:
        query = query.where(ProcessInstance.offering_key.in_(offerings))
    return query.order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())


def failed_jobs(instance_ids: list[int]) -> dict[int, list[Job]]:
    """The failed jobs of several requests (one query)."""
    found: dict[int, list[Job]] = {i: [] for i in instance_ids}
    if instance_ids:
        rows = db.session.scalars(
            select(Job)
            .where(Job.instance_id.in_(instance_ids), Job.status == JobStatus.FAILED)
            .order_by(Job.updated_at.desc())
        )
        for row in rows:
            found[row.instance_id].append(row)
    return found


def last_failures(instance_ids: list[int]) -> dict[int, InstanceEvent]:
    """The newest failure event of each request (one query)."""
    found: dict[int, InstanceEvent] = {}
    if instance_ids:
        rows = db.session.scalars(
            select(InstanceEvent)
            .where(
                InstanceEvent.instance_id.in_(instance_ids),
                InstanceEvent.kind.in_(FAILURE_EVENTS),
            )
            .order_by(InstanceEvent.id)
        )
        for row in rows:
            found[row.instance_id] = row
    return found


def recently_retried(*, hours: float = 24, limit: int = 20) -> list[tuple[InstanceEvent, Job]]:
    """Steps an operator retried or corrected lately, newest first, with their job as it is now.

    What the failed-steps page shows after a retry: queued or running (the result is coming),
    done, or failed again.
    """
    since = utcnow() - timedelta(hours=hours)
    events = list(
        db.session.scalars(
            select(InstanceEvent)
            .where(InstanceEvent.kind.in_(RETRY_EVENTS), InstanceEvent.created_at >= since)
            .order_by(InstanceEvent.id.desc())
            .limit(limit)
        )
    )
    found, seen = [], set()
    for event in events:
        if (event.instance_id, event.bpmn_id) in seen:
            continue
        seen.add((event.instance_id, event.bpmn_id))
        job = db.session.scalar(
            select(Job)
            .filter_by(instance_id=event.instance_id, bpmn_id=event.bpmn_id)
            .order_by(Job.id.desc())
            .limit(1)
        )
        if job is not None:
            found.append((event, job))
    return found


def step_inputs(job: Job) -> list[dict]:
    """What a failed step reads, to correct: [{name, value, label, options}], in order.

    Labels and choices ({value, label}) come from the form of the version that declares the
    field; a value that is a list or an object is not offered (it is not typed in one box).
    """
    instance = job.instance
    step = catalog.steps(instance.process_version).get(job.bpmn_id)
    if step is None or not step.spec.reads:
        return []
    values = runtime.step_data(store.load_workflow(instance), job.task_id, step.spec.reads)
    forms = list(catalog.forms_of(instance.process_version).values())
    inputs = []
    for name in step.spec.reads:
        if isinstance(values.get(name), dict | list):
            continue
        form = next((f for f in forms if f.field_schema(name) is not None), None)
        hint = form.ui.get("fields", {}).get(name, {}) if form else {}
        choices = (form.field_schema(name) or {}).get("enum", []) if form else []
        options = [
            {"value": v, "label": hint.get("options", {}).get(str(v)) or {"en": str(v)}}
            for v in choices
        ]
        inputs.append(
            {
                "name": name,
                "value": values.get(name),
                "label": hint.get("label") or {"en": name},
                "options": options,
            }
        )
    return inputs


def operational_counts() -> dict:
    """Counts for monitoring: requests and jobs by status, failed steps, due timers and work."""
    instances = dict(
        db.session.execute(
            select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
        ).all()
    )
    jobs = dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    now = utcnow()
    oldest = db.session.scalar(
        select(func.min(Job.created_at)).where(Job.status == JobStatus.QUEUED)
    )
    timers_due = db.session.scalar(select(func.count()).where(ProcessInstance.next_timer_at <= now))
    return {
        "instances": instances,
        "jobs": jobs,
        "failed_steps": jobs.get(JobStatus.FAILED, 0),
        "timers_due": timers_due or 0,
        "oldest_queued_seconds": (now - oldest).total_seconds() if oldest else 0.0,
    }


def job(job_id: int) -> Job:
    """Raises NotFound for an unknown job."""
    found = db.session.get(Job, job_id) if is_row_id(job_id) else None
    if found is None:
        raise NotFound(f"job {job_id}")
    return found
