"""Units of work on instances: one call, one transaction, one commit, dispatch after commit.

`dispatch` is a callable taking the ids of job rows created by the unit of work; it runs only after
the commit, so a worker always finds the row it was sent for.
"""

import json
import logging
from collections.abc import Callable

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from engine import access, runtime, serializer, versions
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound, ProcessFailed
from engine.models import (
    HumanTask,
    InstanceComment,
    InstanceEvent,
    Job,
    ProcessInstance,
    User,
    db,
    utcnow,
)

log = logging.getLogger(__name__)
Dispatch = Callable[[list[int]], None]
_TITLES = SandboxedEnvironment(autoescape=False)  # plain text; pages escape when rendering
TERMINAL = {runtime.InstanceStatus.COMPLETE, runtime.InstanceStatus.CANCELLED}


def start_instance(
    offering_key: str,
    data: dict,
    *,
    user: User,
    dispatch: Dispatch,
    title: str | None = None,
    business_key: str | None = None,
) -> ProcessInstance:
    """Start a request of the newest version of an offering with validated start-form data."""
    runtime.validate_data_keys(data)
    version = versions.latest(offering_key)
    spec, subprocess_specs = versions.specs_for(version)
    instance = ProcessInstance(
        process_version_id=version.id,
        offering_key=offering_key,
        title=(title or _title(version.meta, data) or offering_key)[:200],
        business_key=business_key,
        requested_by_id=user.id,
        status=runtime.InstanceStatus.RUNNING,
        workflow_json="{}",
        serializer_version=serializer.FORMAT_VERSION,
    )
    db.session.add(instance)
    db.session.flush()
    _event(instance, "started", user, payload={"version": version.version})
    workflow = runtime.new_workflow(spec, subprocess_specs, data)
    failure = None
    try:
        runtime.run_until_blocked(workflow)
    except ProcessFailed as exc:
        failure = exc
    return _save_and_dispatch(instance, workflow, dispatch, failure=failure)


def complete_task(
    instance_id: int, task_id: str, data: dict, *, user: User, dispatch: Dispatch
) -> ProcessInstance:
    """Complete an open user step with validated form data.

    Raises:
        NotFound: unknown instance or task.
        Forbidden: the task is not the user's or their groups'.
        Conflict: the task is closed, claimed by someone else, or the instance changed meanwhile.
    """
    runtime.validate_data_keys(data)
    instance, task = _open_task(instance_id, task_id, user)
    workflow = _load(instance)
    failure = None
    try:
        runtime.complete_step(workflow, task_id, data)
    except ProcessFailed as exc:
        failure = exc
    task.state, task.completed_at, task.completed_by_id = "completed", utcnow(), user.id
    _event(instance, "task_completed", user, bpmn_id=task.bpmn_id, payload={"name": task.name})
    return _save_and_dispatch(instance, workflow, dispatch, failure=failure)


def _title(meta: dict, data: dict) -> str:
    """Render the offering's `title_template` with the start data (plain text, sandboxed)."""
    template = meta.get("title_template")
    if template:
        try:
            return " ".join(_TITLES.from_string(template).render(**data).split())
        except TemplateError as exc:
            log.warning("title template of %s failed: %s", meta.get("name_en"), exc)
    return meta.get("name_en") or ""


def _open_task(instance_id: int, task_id: str, user: User) -> tuple[ProcessInstance, HumanTask]:
    task = access.get_task(task_id)
    if task.instance_id != instance_id:
        raise NotFound(f"task {task_id} in instance {instance_id}")
    access.check_can_work(user, task)
    if task.state != "open":
        raise Conflict(f"task {task_id} is already {task.state}")
    if task.assignee_id not in (None, user.id):
        raise Conflict(f"task {task_id} is claimed by {task.assignee.username}")
    return _lock(instance_id), task


def claim_task(task_id: str, *, user: User) -> HumanTask:
    """Assign an open group task to the user.

    Raises:
        Conflict: closed, or claimed by someone else.
    """
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    if task.state != "open":
        raise Conflict(f"task {task_id} is already {task.state}")
    if task.assignee_id not in (None, user.id):
        raise Conflict(f"task {task_id} is claimed by {task.assignee.username}")
    task.assignee_id = user.id
    _event(task.instance, "task_claimed", user, bpmn_id=task.bpmn_id)
    db.session.commit()
    return task


def unclaim_task(task_id: str, *, user: User) -> HumanTask:
    """Give a claimed task back to its group (the assignee or an admin)."""
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    if task.state != "open":
        raise Conflict(f"task {task_id} is already {task.state}")
    if task.assignee_id not in (None, user.id) and not user.has_role("admin"):
        raise Conflict(f"task {task_id} is claimed by {task.assignee.username}")
    task.assignee_id = None
    _event(task.instance, "task_unclaimed", user, bpmn_id=task.bpmn_id)
    db.session.commit()
    return task


def cancel_instance(instance_id: int, *, user: User, reason: str = "") -> ProcessInstance:
    """Cancel a request (its requester or an agent).

    Raises:
        Conflict: the request is already finished.
    """
    instance = access.visible_instance(user, instance_id)
    if instance.requested_by_id != user.id and not access.can_see_all(user):
        raise Forbidden("only the requester or an agent cancels a request")
    instance = _lock(instance_id)
    if instance.status in TERMINAL:
        raise Conflict(f"instance {instance_id} is already {instance.status}")
    workflow = _load(instance)
    runtime.cancel(workflow)
    _event(instance, "cancelled", user, payload={"reason": reason[:500]})
    return _save_and_dispatch(instance, workflow, None, status=runtime.InstanceStatus.CANCELLED)


def begin_job(job_id: int) -> Job | None:
    """Mark a queued job running and count the attempt; None when there is nothing to do."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in ("done", "failed"):
        db.session.rollback()
        return None
    job.status, job.attempts, job.updated_at = "running", job.attempts + 1, utcnow()
    db.session.commit()
    return job


def finish_job(job_id: int, result, *, dispatch: Dispatch) -> None:
    """Hand an operation's result back to its service task and run the instance on.

    A result for a step that no longer waits (duplicate job, cancelled instance) is a no-op.
    """
    job = db.session.get(Job, job_id)
    if job is None or job.status == "done":
        db.session.rollback()
        return
    instance = _lock(job.instance_id)
    job.status, job.result, job.updated_at = "done", result, utcnow()
    if instance.status in TERMINAL:
        db.session.commit()
        return
    workflow = _load(instance)
    failure = None
    try:
        applied = runtime.complete_service_step(workflow, job.task_id, result)
    except ProcessFailed as exc:
        applied, failure = True, exc
    if not applied:
        db.session.commit()
        return
    _event(instance, "job_done", None, bpmn_id=job.bpmn_id, payload={"operation": job.operation})
    _save_and_dispatch(instance, workflow, dispatch, failure=failure)


def retry_job_later(job_id: int, error: str) -> None:
    """Record a transient failure; the job stays queued for the queue's retry."""
    job = db.session.get(Job, job_id)
    job.status, job.error, job.updated_at = "queued", error[:4000], utcnow()
    _event(
        job_instance(job),
        "job_retry",
        None,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "attempt": job.attempts, "error": error[:500]},
    )
    db.session.commit()


def fail_job(job_id: int, error: str) -> None:
    """Record that an operation failed for good: the step goes to ERROR, the instance to error."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in ("done", "failed"):
        db.session.rollback()
        return
    instance = _lock(job.instance_id)
    job.status, job.error, job.updated_at = "failed", error[:4000], utcnow()
    _event(
        instance,
        "job_failed",
        None,
        bpmn_id=job.bpmn_id,
        payload={"operation": job.operation, "attempts": job.attempts, "error": error[:500]},
    )
    if instance.status in TERMINAL:
        db.session.commit()
        return
    workflow = _load(instance)
    runtime.fail_service_step(workflow, job.task_id, error)
    _save_and_dispatch(instance, workflow, None)


def job_instance(job: Job) -> ProcessInstance:
    return db.session.get(ProcessInstance, job.instance_id)


def wake_instance(instance_id: int, *, dispatch: Dispatch) -> ProcessInstance | None:
    """Let due timers fire and run the instance on; a no-op when nothing is due."""
    instance = _lock(instance_id)
    if instance.status in TERMINAL or instance.status == runtime.InstanceStatus.ERROR:
        db.session.commit()
        return instance
    workflow = _load(instance)
    failure = None
    try:
        fired = runtime.fire_timers(workflow)
    except ProcessFailed as exc:
        fired, failure = ["?"], exc
    for bpmn_id in fired:
        _event(instance, "timer_fired", None, bpmn_id=bpmn_id)
    return _save_and_dispatch(instance, workflow, dispatch, failure=failure)


def due_timer_instances(limit: int = 100) -> list[int]:
    """Return ids of instances with a timer due now, oldest first."""
    ids = db.session.scalars(
        select(ProcessInstance.id)
        .where(ProcessInstance.next_timer_at <= utcnow())
        .order_by(ProcessInstance.next_timer_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    return list(ids)


def mark_failed(instance_id: int, exc: BaseException) -> None:
    """Record an unexpected error on an instance in its own transaction (job wrapper, CLI)."""
    db.session.rollback()
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        return
    instance.status = runtime.InstanceStatus.ERROR
    _event(
        instance,
        "failed",
        None,
        payload={
            "error": f"{type(exc).__name__}: {exc}"[:1000],
            "trace": runtime.format_exception(exc),
        },
    )
    db.session.commit()


def _lock(instance_id: int) -> ProcessInstance:
    """Load an instance for a state change (row lock on PostgreSQL; SQLite locks at BEGIN)."""
    instance = db.session.get(
        ProcessInstance, instance_id, with_for_update=True, populate_existing=True
    )
    if instance is None:
        raise NotFound(f"instance {instance_id}")
    return instance


def _load(instance: ProcessInstance):
    spec, subprocess_specs = versions.specs_for(instance.process_version)
    return serializer.loads(instance.workflow_json, spec, subprocess_specs, runtime.SCRIPT_ENGINE)


def _save_and_dispatch(instance, workflow, dispatch, *, failure=None, status=None):
    """Store the workflow, project its steps and jobs, commit, then dispatch the new jobs."""
    jobs = [] if status == runtime.InstanceStatus.CANCELLED else runtime.pending_jobs(workflow)
    instance.workflow_json = serializer.dumps(workflow)
    instance.status = status or runtime.status_of(workflow)
    instance.outcome = runtime.outcome(workflow)
    due = runtime.next_timer_due(workflow) if instance.status not in TERMINAL else None
    instance.next_timer_at = due.replace(tzinfo=None) if due else None
    instance.updated_at = utcnow()
    if instance.status in TERMINAL:
        instance.completed_at = instance.updated_at
        if instance.status == runtime.InstanceStatus.COMPLETE:
            _event(instance, "completed", None, payload={"outcome": instance.outcome})
    if failure is not None:
        instance.status = runtime.InstanceStatus.ERROR
        _event(
            instance,
            "failed",
            None,
            bpmn_id=failure.extra.get("bpmn_id"),
            payload={"error": failure.detail, **_json_safe(failure.extra)},
        )
        log.warning("instance %s failed: %s", instance.id, failure.detail)
    _sync_tasks(instance, workflow)
    rows = [
        Job(
            instance_id=instance.id,
            task_id=j.task_id,
            bpmn_id=j.bpmn_id,
            operation=j.operation,
            params=_json_safe(j.params),
        )
        for j in jobs
    ]
    db.session.add_all(rows)
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict(f"instance {instance.id} was changed by someone else; try again") from exc
    if rows and dispatch is not None:
        dispatch([row.id for row in rows])
    return instance


def _sync_tasks(instance: ProcessInstance, workflow) -> None:
    open_rows = {
        t.task_id: t
        for t in db.session.scalars(
            select(HumanTask).filter_by(instance_id=instance.id, state="open")
        )
    }
    steps = [] if instance.status in TERMINAL else runtime.open_steps(workflow)
    current = {s.task_id for s in steps}
    for task_id, row in open_rows.items():
        if task_id not in current:
            row.state, row.completed_at = "cancelled", utcnow()
    now = utcnow()
    embedded = instance.process_version.meta.get("embedded_forms", {})
    for step in steps:
        if step.task_id in open_rows:
            continue
        db.session.add(
            HumanTask(
                instance_id=instance.id,
                task_id=step.task_id,
                bpmn_id=step.bpmn_id,
                name=step.name[:200],
                lane=step.lane,
                candidate_group=step.candidate_group,
                form_key=step.form_key
                or (f"embedded:{step.bpmn_id}" if step.bpmn_id in embedded else None),
                instructions=step.instructions,
                offering_key=instance.offering_key,
                created_at=now,
                due_at=runtime.due_after(now, step.due_in),
            )
        )


def _event(instance, kind: str, actor: User | None, *, bpmn_id=None, payload=None) -> None:
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


def _json_safe(value):
    return json.loads(json.dumps(value, default=str))


def add_comment(instance_id: int, body: str, *, user: User) -> InstanceComment:
    """Add a comment to a request the user can see.

    Raises:
        InvalidInput: empty or too long.
    """
    body = (body or "").strip()
    if not body or len(body) > 4000:
        raise InvalidInput(
            "Write 1 to 4000 characters.", errors={"body": ["1 to 4000 characters."]}
        )
    instance = access.visible_instance(user, instance_id)
    comment = InstanceComment(instance_id=instance.id, author_id=user.id, body=body)
    db.session.add(comment)
    _event(instance, "commented", user)
    db.session.commit()
    return comment


def reassign_task(task_id: str, username: str, *, user: User) -> HumanTask:
    """Assign an open task to a member of its candidate group.

    Raises:
        InvalidInput: the new assignee is unknown or not in the task's group.
        Conflict: the task is closed.
    """
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    if task.state != "open":
        raise Conflict(f"task {task_id} is already {task.state}")
    assignee = db.session.scalar(select(User).filter_by(username=username, is_active=True))
    if assignee is None or task.candidate_group not in assignee.group_keys:
        raise InvalidInput(
            f"{username!r} is not a member of group '{task.candidate_group}'",
            errors={"assignee": ["Not a member of the task's group."]},
        )
    task.assignee_id = assignee.id
    _event(task.instance, "task_reassigned", user, bpmn_id=task.bpmn_id,
           payload={"assignee": assignee.username})  # fmt: skip
    db.session.commit()
    return task
