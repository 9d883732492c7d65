"""Persistence of one instance's state change: lock, load, save with projections, then dispatch.

Shared by the units of work in instances/service.py (people) and automation/service.py (workers,
timers).
"""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import undefer
from sqlalchemy.orm.exc import StaleDataError

from engine.audit import service as audit
from engine.audit.kinds import AuditKind
from engine.bpmn import runtime, serializer
from engine.catalog import reads as catalog
from engine.db import db, utcnow
from engine.errors import Conflict, NotFound, ProcessFailed
from engine.identity.models import User
from engine.instances.models import (
    OPEN_JOBS,
    Decision,
    EventKind,
    HumanTask,
    InstanceEvent,
    InstanceStatus,
    Job,
    JobKind,
    JobStatus,
    Outcome,
    ProcessInstance,
    TaskCandidate,
    TaskState,
)

log = logging.getLogger(__name__)
Dispatch = Callable[[list[int]], None]


def lock_instance(instance_id: int) -> ProcessInstance:
    """Load an instance for a state change (row lock on PostgreSQL; SQLite locks at BEGIN).

    Raises:
        NotFound: no such instance.
    """
    instance = db.session.get(
        ProcessInstance,
        instance_id,
        with_for_update=True,
        populate_existing=True,
        options=[undefer(ProcessInstance.workflow_json)],
    )
    if instance is None:
        raise NotFound(f"instance {instance_id}")
    return instance


def load_workflow(instance: ProcessInstance):
    spec, subprocess_specs = catalog.specs_for(instance.process_version)
    return serializer.loads(instance.workflow_json, spec, subprocess_specs, runtime.SCRIPT_ENGINE)


def has_failed_step(instance_id: int) -> bool:
    return (
        db.session.scalar(
            select(Job.id).filter_by(instance_id=instance_id, status=JobStatus.FAILED).limit(1)
        )
        is not None
    )


def save(
    instance: ProcessInstance,
    workflow,
    dispatch: Dispatch | None,
    *,
    failure: ProcessFailed | None = None,
    status: InstanceStatus | None = None,
) -> ProcessInstance:
    """Store the workflow, project its steps and jobs, commit, then dispatch the new jobs.

    Raises:
        Conflict: someone else changed the instance meanwhile (stale version).
    """
    # Read before changing the instance: a query autoflushes, and a flush of a half-changed
    # instance would be an UPDATE (and a version bump) of its own.
    # A failed step puts the request in error (automation.service.job_failed), so only a
    # request in error can have one: the query is spared for all others.
    failed_step = instance.status == InstanceStatus.ERROR and has_failed_step(instance.id)
    open_rows = _open_task_rows(instance.id)
    jobs = [] if status == InstanceStatus.CANCELLED else runtime.pending_jobs(workflow)
    ended = runtime.outcome(workflow) if status is None else None
    rejection = _last_rejection(instance.id) if ended and ended[0] == Outcome.REJECTED else None
    instance.workflow_json = serializer.dumps(workflow)
    instance.data_json = json_safe(runtime.data(workflow))
    instance.status = status or runtime.status_of(workflow)
    if not instance.is_finished and failed_step:
        instance.status = InstanceStatus.ERROR
    due = runtime.next_timer_due(workflow) if not instance.is_finished else None
    instance.next_timer_at = due.replace(tzinfo=None) if due else None
    instance.updated_at = utcnow()
    if instance.is_finished:
        instance.completed_at = instance.updated_at
    if instance.status == InstanceStatus.CANCELLED:
        instance.outcome = Outcome.CANCELLED
    elif instance.status == InstanceStatus.COMPLETE and ended:
        instance.outcome = Outcome(ended[0])
        instance.outcome_reason = ended[1] or (rejection or {}).get("comment")
        add_event(
            instance,
            EventKind.COMPLETED,
            None,
            bpmn_id=runtime.end_event(workflow),
            payload={"outcome": instance.outcome, "reason": instance.outcome_reason},
        )
    if failure is not None:
        instance.status = InstanceStatus.ERROR
        add_event(
            instance,
            EventKind.FAILED,
            None,
            bpmn_id=failure.extra.get("bpmn_id"),
            payload={"error": failure.detail, **json_safe(failure.extra)},
        )
        log.warning("instance %s failed: %s", instance.id, failure.detail)
        if failure.extra.get("task_id") and failure.extra.get("bpmn_id"):
            db.session.add(failed_step_row(instance, failure))
    now_open = sync_tasks(instance, workflow, open_rows)
    rows = [
        Job(
            instance_id=instance.id,
            task_id=j.task_id,
            bpmn_id=j.bpmn_id,
            operation=j.operation,
            params=json_safe(j.params),
            max_attempts=j.max_attempts,
            backoff_base=j.backoff_base,
        )
        for j in jobs
    ]
    db.session.add_all(rows)
    commit()
    # the answer's open steps, as this save left them (ids exist once committed): not read again
    instance.open_task_rows = sorted(
        (row for row in now_open if row.state == TaskState.OPEN), key=lambda row: row.id
    )
    if rows and dispatch is not None:
        dispatch([row.id for row in rows])
    return instance


STEP_OPERATION = "engine.step"  # what a failed engine step shows where operations are named


def failed_step_row(instance: ProcessInstance, failure: ProcessFailed) -> Job:
    """A failed engine step (script, condition, library error) as a failed-step row.

    The failed-steps machinery lists it, and an agent retries it (with corrected data) once the
    cause is fixed; until then the request shows `error`.
    """
    return Job(
        instance_id=instance.id,
        task_id=failure.extra["task_id"],
        bpmn_id=failure.extra["bpmn_id"],
        operation=STEP_OPERATION,
        kind=JobKind.STEP,
        params={},
        status=JobStatus.FAILED,
        attempts=1,
        error=failure.detail[:4000],
    )


def _last_rejection(instance_id: int) -> dict | None:
    """The payload of the newest step completed with a rejection (its comment, its step)."""
    events = db.session.scalars(
        select(InstanceEvent)
        .filter_by(instance_id=instance_id, kind=EventKind.TASK_COMPLETED)
        .order_by(InstanceEvent.id.desc())
    )
    for event in events:
        if (event.payload or {}).get("decision") == Decision.REJECTED:
            return event.payload
    return None


def commit() -> None:
    """Commit, turning a stale optimistic version into Conflict."""
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict("the request was changed by someone else; try again") from exc


def _open_task_rows(instance_id: int) -> dict[str, HumanTask]:
    rows = db.session.scalars(
        select(HumanTask).filter_by(instance_id=instance_id, state=TaskState.OPEN)
    )
    return {row.task_id: row for row in rows}


def sync_tasks(
    instance: ProcessInstance, workflow, open_rows: dict[str, HumanTask]
) -> list[HumanTask]:
    """Bring the human_task projection in line with the workflow's READY user steps; return
    the rows open now."""
    steps = [] if instance.is_finished else runtime.open_steps(workflow)
    current = {s.task_id for s in steps}
    now = utcnow()
    still_open = []
    for task_id, row in open_rows.items():
        if task_id not in current:
            row.state, row.completed_at = TaskState.CANCELLED, now
        else:
            still_open.append(row)
    embedded = instance.process_version.meta.get("embedded_forms", {})
    closed = _closed_rows(instance.id, [s.task_id for s in steps if s.task_id not in open_rows])
    for step in steps:
        if step.task_id in open_rows:
            continue
        if step.task_id in closed:  # a step whose completion failed, opened again by a retry
            row = closed[step.task_id]
            row.state, row.completed_at, row.completed_by_id = TaskState.OPEN, None, None
            still_open.append(row)
            continue
        form_key = step.form_key or (
            f"embedded:{step.bpmn_id}" if step.bpmn_id in embedded else None
        )
        people = _users(step.candidate_users + ((step.assignee,) if step.assignee else ()))
        groups = [g[:64] for g in step.candidate_groups if g != step.candidate_group]
        assignee = people.get(step.assignee) if step.assignee else None
        row = HumanTask(
            instance_id=instance.id,
            task_id=step.task_id,
            bpmn_id=step.bpmn_id,
            name=step.name[:200],
            lane=step.lane,
            candidate_group=step.candidate_group,
            assignee_id=assignee.id if assignee else None,
            form_key=form_key,
            instructions=step.instructions,
            offering_key=instance.offering_key,
            priority=step.priority,
            created_at=now,
            due_at=_due_date(step.due_date) or runtime.due_after(now, step.due_in),
            candidates=[TaskCandidate(group_key=g) for g in groups]
            + [TaskCandidate(user_id=people[u].id) for u in step.candidate_users if u in people],
        )
        db.session.add(row)
        still_open.append(row)
    return still_open


def _closed_rows(instance_id: int, task_ids: list[str]) -> dict[str, HumanTask]:
    if not task_ids:
        return {}
    with db.session.no_autoflush:  # the instance is half-changed here (see save)
        rows = db.session.scalars(
            select(HumanTask)
            .filter_by(instance_id=instance_id)
            .where(HumanTask.task_id.in_(task_ids))
        ).all()
    return {row.task_id: row for row in rows}


def _users(usernames: tuple[str, ...]) -> dict[str, User]:
    """The active users of these usernames (unknown ones are left out: no one to ask)."""
    if not usernames:
        return {}
    with db.session.no_autoflush:  # the instance is half-changed here (see save)
        rows = db.session.scalars(
            select(User).where(User.username.in_(set(usernames)), User.is_active.is_(True))
        ).all()
    return {user.username: user for user in rows}


def _due_date(text: str | None):
    """An ISO date-time with offset (a step's dueDate) as naive UTC, or None."""
    try:
        when = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
    if when is None or when.tzinfo is None:
        return None
    return when.astimezone(UTC).replace(tzinfo=None)


def cancel_jobs(instance_id: int) -> None:
    """Mark an instance's unfinished jobs cancelled (in the caller's transaction)."""
    db.session.execute(
        update(Job)
        .where(Job.instance_id == instance_id, Job.status.in_((*OPEN_JOBS, JobStatus.FAILED)))
        .values(status=JobStatus.CANCELLED, updated_at=utcnow(), lease_until=None)
    )


def add_event(instance, kind: EventKind, actor: User | None, *, bpmn_id=None, payload=None):
    """Append to the instance's history (in the caller's transaction).

    A change made by a person also goes to the hash-chained audit log, with where it came from.
    """
    db.session.add(
        InstanceEvent(
            instance_id=instance.id,
            kind=kind,
            actor_id=actor.id if actor else None,
            bpmn_id=bpmn_id,
            payload=payload or {},
            created_at=utcnow(),
        )
    )
    if actor is not None:
        audit.append_at_commit(
            AuditKind.REQUEST_CHANGED,
            audit.Actor(actor.id, actor.username, audit.current_source()),
            subject=lambda: f"instance:{instance.id}",
            detail={"event": str(kind), "bpmn_id": bpmn_id, **(payload or {})},
        )


def json_safe(value):
    return json.loads(json.dumps(value, default=str))
