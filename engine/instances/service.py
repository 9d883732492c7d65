"""Units of work on requests: one call, one transaction, one commit, dispatch after commit.

`dispatch` is a callable taking the ids of job rows created by the unit of work; it runs only after
the commit, so a worker always finds the row it was sent for.
"""

import logging
from datetime import timedelta

from sqlalchemy import select

from engine.bpmn import runtime, serializer
from engine.catalog import reads as catalog
from engine.catalog import texts
from engine.db import begin_write, db, utcnow, write_unit
from engine.errors import InvalidInput, ProcessFailed
from engine.identity import roles
from engine.identity.models import User
from engine.instances import access, attachments, intake, store
from engine.instances.models import (
    Attachment,
    EventKind,
    HumanTask,
    InstanceComment,
    InstanceStatus,
    ProcessInstance,
    TaskState,
)
from engine.instances.store import Dispatch
from forms.messages import FieldError, as_problem

log = logging.getLogger(__name__)
MAX_COMMENT = 4000


def start_instance(
    offering_key: str,
    data: dict,
    *,
    user: User,
    dispatch: Dispatch,
    title: str | None = None,
    business_key: str | None = None,
    problems: dict[str, list[FieldError]] | None = None,
) -> ProcessInstance:
    """Start a request of the newest version of an offering with its start form's data.

    `problems`: field problems the front end found while reading the data (see intake.take).

    Raises:
        NotFound: no such offering. InvalidInput: the start form refuses the data.
    """
    version = catalog.latest(offering_key)
    clean = intake.take(version, version.meta.get("start_form"), data, problems=problems)
    if version.meta.get("initiator_variable"):  # Camunda's camunda:initiator, for ${initiator}
        clean[version.meta["initiator_variable"]] = user.username
    begin_write()
    titles = texts.titles(version, clean)
    instance = ProcessInstance(
        process_version_id=version.id,
        offering_key=offering_key,
        title=(title or titles["en"])[:200],
        title_zh=(title or titles["zh"])[:200],
        business_key=business_key,
        requested_by_id=user.id,
        status=InstanceStatus.RUNNING,
        workflow_json="{}",
        serializer_version=serializer.FORMAT_VERSION,
    )
    db.session.add(instance)
    db.session.flush()
    attachments.link_referenced(clean, instance, user=user)
    store.add_event(instance, EventKind.STARTED, user, payload={"version": version.version})
    spec, subprocess_specs = catalog.specs_for(version)
    workflow = runtime.new_workflow(spec, subprocess_specs, clean)
    failure = None
    try:
        runtime.run_until_blocked(workflow)
    except ProcessFailed as exc:
        failure = exc
    return store.save(instance, workflow, dispatch, failure=failure)


def complete_task(
    task_id: str,
    data: dict,
    *,
    user: User,
    dispatch: Dispatch,
    problems: dict[str, list[FieldError]] | None = None,
) -> ProcessInstance:
    """Complete an open user step with its form's data; the request moves on.

    Raises:
        NotFound: unknown task.
        Forbidden: the task is not the user's or their groups'.
        Conflict: the task is closed, claimed by someone else, or the instance changed meanwhile.
        InvalidInput: the step's form refuses the data.
    """
    begin_write()  # everything read once, under the write lock (the form check takes ~1 ms)
    task = _task_of(task_id, user)
    instance = store.lock_instance(task.instance_id)
    version = instance.process_version
    step = catalog.steps(version).get(task.bpmn_id)
    clean = intake.take(version, task.form_key, data, step=step, problems=problems)
    workflow = store.load_workflow(instance)
    failure = None
    try:
        runtime.complete_step(workflow, task_id, clean)
    except ProcessFailed as exc:
        failure = exc
    decision, comment = intake.decision_of(step, clean)
    task.state, task.completed_at, task.completed_by_id = TaskState.COMPLETED, utcnow(), user.id
    task.decision = decision
    attachments.link_referenced(clean, instance, user=user)
    payload = {"name": task.name}
    if decision:
        payload.update(decision=decision, comment=comment)
    store.add_event(instance, EventKind.TASK_COMPLETED, user, bpmn_id=task.bpmn_id, payload=payload)
    return store.save(instance, workflow, dispatch, failure=failure)


def _task_of(task_id: str, user: User) -> HumanTask:
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    access.check_open_for(user, task)
    return task


@write_unit
def claim_task(task_id: str, *, user: User) -> HumanTask:
    """Assign an open group task to the user.

    Raises:
        Conflict: closed, or claimed by someone else.
    """
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    access.check_open_for(user, task)
    task.assignee_id = user.id
    store.add_event(task.instance, EventKind.TASK_CLAIMED, user, bpmn_id=task.bpmn_id)
    db.session.commit()
    return task


@write_unit
def unclaim_task(task_id: str, *, user: User) -> HumanTask:
    """Give a claimed task back to its group (the assignee or an admin)."""
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    if roles.acts_on_any_step(user):
        access.check_open(task)
    else:
        access.check_open_for(user, task)
    task.assignee_id = None
    store.add_event(task.instance, EventKind.TASK_UNCLAIMED, user, bpmn_id=task.bpmn_id)
    db.session.commit()
    return task


@write_unit
def reassign_task(task_id: str, username: str, *, user: User) -> HumanTask:
    """Assign an open task to a member of its candidate group.

    Raises:
        InvalidInput: the new assignee is unknown or not in the task's group.
        Conflict: the task is closed.
    """
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    access.check_open(task)
    assignee = db.session.scalar(select(User).filter_by(username=username, is_active=True))
    if assignee is None or not access.is_candidate(assignee, task):
        raise InvalidInput(
            f"{username!r} is not a member of group '{task.candidate_group}'",
            errors={"assignee": ["Not a member of the task's group."]},
        )
    task.assignee_id = assignee.id
    store.add_event(
        task.instance,
        EventKind.TASK_REASSIGNED,
        user,
        bpmn_id=task.bpmn_id,
        payload={"assignee": assignee.username},
    )
    db.session.commit()
    return task


@write_unit
def cancel_instance(instance_id: int, *, user: User, reason: str = "") -> ProcessInstance:
    """Cancel a request (its requester or an agent).

    Raises:
        Forbidden: neither its requester nor an agent. Conflict: the request already finished.
    """
    access.visible_instance(user, instance_id)
    instance = store.lock_instance(instance_id)
    access.check_can_cancel(user, instance)
    workflow = store.load_workflow(instance)
    runtime.cancel(workflow)
    store.cancel_jobs(instance.id)
    store.add_event(instance, EventKind.CANCELLED, user, payload={"reason": reason[:500]})
    return store.save(instance, workflow, None, status=InstanceStatus.CANCELLED)


@write_unit
def wake_instance(instance_id: int, *, dispatch: Dispatch) -> ProcessInstance | None:
    """Let due timers fire and run the instance on; a no-op when nothing is due."""
    instance = store.lock_instance(instance_id)
    if instance.is_finished or instance.status == InstanceStatus.ERROR:
        db.session.commit()
        return instance
    workflow = store.load_workflow(instance)
    failure = None
    try:
        fired = runtime.fire_timers(workflow)
    except ProcessFailed as exc:
        fired, failure = ["?"], exc
    for bpmn_id in fired:
        store.add_event(instance, EventKind.TIMER_FIRED, None, bpmn_id=bpmn_id)
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
    instance.status = InstanceStatus.ERROR
    store.add_event(
        instance,
        EventKind.FAILED,
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
    if not body or len(body) > MAX_COMMENT:
        raise InvalidInput(
            f"Write 1 to {MAX_COMMENT} characters.",
            **as_problem({"body": [FieldError("comment_length", texts=COMMENT_LENGTH)]}),
        )
    instance = access.visible_instance(user, instance_id)
    comment = InstanceComment(instance_id=instance.id, author_id=user.id, body=body)
    db.session.add(comment)
    store.add_event(instance, EventKind.COMMENTED, user)
    db.session.commit()
    return comment


COMMENT_LENGTH = (
    f"Write a comment of 1 to {MAX_COMMENT} characters.",
    f"请填写 1 到 {MAX_COMMENT} 个字符的评论。",
)


def upload_attachment(
    stream,
    filename: str,
    content_type: str,
    *,
    user: User,
    storage,
    max_bytes: int,
    allowed_types: set[str],
) -> Attachment:
    """Store an upload as the user's own (not yet linked to a request).

    Raises:
        InvalidInput: too large, empty, or a type that is not allowed.
    """
    values = attachments.store_file(
        stream,
        filename,
        content_type,
        storage=storage,
        max_bytes=max_bytes,
        allowed_types=allowed_types,
    )
    begin_write()
    row = Attachment(uploaded_by_id=user.id, **values)
    db.session.add(row)
    db.session.commit()
    return row


UPLOAD_KEPT_HOURS = (
    24  # an upload no request took is the uploader's for this long (a re-shown form)
)


@write_unit
def purge_unclaimed_uploads(*, storage, older_than_hours: float = UPLOAD_KEPT_HOURS) -> int:
    """Delete uploads no request linked in time, and their files when nothing else has them."""
    cutoff = utcnow() - timedelta(hours=older_than_hours)
    stale = list(
        db.session.scalars(
            select(Attachment).where(
                Attachment.instance_id.is_(None), Attachment.created_at < cutoff
            )
        )
    )
    digests = {row.sha256 for row in stale}
    for row in stale:
        db.session.delete(row)
    db.session.flush()
    kept = (
        set(db.session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(digests))))
        if digests
        else set()
    )
    db.session.commit()
    for digest in digests - kept:
        attachments.path_of(storage, digest).unlink(missing_ok=True)
    return len(stale)
