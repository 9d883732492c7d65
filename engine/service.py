"""Units of work on instances: one call, one transaction, one commit, dispatch after commit.

`dispatch` is a callable taking the ids of job rows created by the unit of work; it runs only after
the commit, so a worker always finds the row it was sent for.
"""

import logging

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from engine import access, automation, runtime, serializer, store, versions
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound, ProcessFailed
from engine.models import (
    HumanTask,
    InstanceComment,
    ProcessInstance,
    User,
    begin_write,
    db,
    utcnow,
    write_unit,
)
from engine.store import TERMINAL, Dispatch

log = logging.getLogger(__name__)
_TITLES = SandboxedEnvironment(autoescape=False)  # plain text; pages escape when rendering


@write_unit
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
    store.add_event(instance, "started", user, payload={"version": version.version})
    workflow = runtime.new_workflow(spec, subprocess_specs, data)
    failure = None
    try:
        runtime.run_until_blocked(workflow)
    except ProcessFailed as exc:
        failure = exc
    return store.save(instance, workflow, dispatch, failure=failure)


@write_unit
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
    workflow = store.load_workflow(instance)
    failure = None
    try:
        runtime.complete_step(workflow, task_id, data)
    except ProcessFailed as exc:
        failure = exc
    task.state, task.completed_at, task.completed_by_id = "completed", utcnow(), user.id
    store.add_event(
        instance, "task_completed", user, bpmn_id=task.bpmn_id, payload={"name": task.name}
    )
    return store.save(instance, workflow, dispatch, failure=failure)


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
    return store.lock_instance(instance_id), task


@write_unit
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
    store.add_event(task.instance, "task_claimed", user, bpmn_id=task.bpmn_id)
    db.session.commit()
    return task


@write_unit
def unclaim_task(task_id: str, *, user: User) -> HumanTask:
    """Give a claimed task back to its group (the assignee or an admin)."""
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    if task.state != "open":
        raise Conflict(f"task {task_id} is already {task.state}")
    if task.assignee_id not in (None, user.id) and not user.has_role("admin"):
        raise Conflict(f"task {task_id} is claimed by {task.assignee.username}")
    task.assignee_id = None
    store.add_event(task.instance, "task_unclaimed", user, bpmn_id=task.bpmn_id)
    db.session.commit()
    return task


@write_unit
def cancel_instance(instance_id: int, *, user: User, reason: str = "") -> ProcessInstance:
    """Cancel a request (its requester or an agent).

    Raises:
        Conflict: the request is already finished.
    """
    instance = access.visible_instance(user, instance_id)
    if instance.requested_by_id != user.id and not access.can_see_all(user):
        raise Forbidden("only the requester or an agent cancels a request")
    instance = store.lock_instance(instance_id)
    if instance.status in TERMINAL:
        raise Conflict(f"instance {instance_id} is already {instance.status}")
    workflow = store.load_workflow(instance)
    runtime.cancel(workflow)
    automation.cancel_jobs(instance.id)
    store.add_event(instance, "cancelled", user, payload={"reason": reason[:500]})
    return store.save(instance, workflow, None, status=runtime.InstanceStatus.CANCELLED)


@write_unit
def wake_instance(instance_id: int, *, dispatch: Dispatch) -> ProcessInstance | None:
    """Let due timers fire and run the instance on; a no-op when nothing is due."""
    instance = store.lock_instance(instance_id)
    if instance.status in TERMINAL or instance.status == runtime.InstanceStatus.ERROR:
        db.session.commit()
        return instance
    workflow = store.load_workflow(instance)
    failure = None
    try:
        fired = runtime.fire_timers(workflow)
    except ProcessFailed as exc:
        fired, failure = ["?"], exc
    for bpmn_id in fired:
        store.add_event(instance, "timer_fired", None, bpmn_id=bpmn_id)
    return store.save(instance, workflow, dispatch, failure=failure)


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
    begin_write()
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        return
    instance.status = runtime.InstanceStatus.ERROR
    store.add_event(
        instance,
        "failed",
        None,
        payload={
            "error": f"{type(exc).__name__}: {exc}"[:1000],
            "trace": runtime.format_exception(exc),
        },
    )
    db.session.commit()


@write_unit
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
    store.add_event(instance, "commented", user)
    db.session.commit()
    return comment


@write_unit
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
    store.add_event(
        task.instance,
        "task_reassigned",
        user,
        bpmn_id=task.bpmn_id,
        payload={"assignee": assignee.username},
    )
    db.session.commit()
    return task


@write_unit
def set_locale(user_id: int, locale: str) -> None:
    """Remember a user's language (zh or en) for the web pages.

    Raises:
        InvalidInput: an unsupported language.
    """
    if locale not in ("zh", "en"):
        raise InvalidInput(f"unsupported language {locale!r}", errors={"lang": ["zh or en."]})
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    user.locale = locale
    db.session.commit()
