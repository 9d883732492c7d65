"""Reading requests: lists and pages, one request's history, open steps, data and outcome.

Nothing here writes. Each function loads what one page or answer needs with as few queries as
possible; a workflow is deserialized at most once per call (`snapshot`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from engine.bpmn import runtime
from engine.db import db
from engine.identity.models import User
from engine.instances import access, store
from engine.instances.models import (
    Decision,
    EventKind,
    HumanTask,
    InstanceComment,
    InstanceEvent,
    InstanceStatus,
    Job,
    Outcome,
    ProcessInstance,
    TaskState,
)

OPEN_STATUSES = tuple(s for s in InstanceStatus if not s.is_finished)
DUE_FILTERS = ("overdue", "today", "week")
REQUEST_STATES = ("open", "closed", "all")


def page(query, page_number: int, page_size: int) -> tuple[list, int]:
    """Return one page of a select() and the total count."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(page_size).offset((page_number - 1) * page_size)).all()
    return list(items), total or 0


def any_instance() -> bool:
    return db.session.scalar(select(ProcessInstance.id).limit(1)) is not None


def pages(total: int, page_size: int) -> int:
    """How many pages `total` items fill (at least one)."""
    return max((total + page_size - 1) // page_size, 1)


MAX_WAIT_SECONDS = 30.0  # a long poll holds a web thread: bounded


def instance_after(user: User, instance_id: int, *, seen_revision: int | None,
                   wait_seconds: float, watching) -> ProcessInstance:  # fmt: skip
    """The instance the user may see, once its revision (the row's version) differs from the
    one the client has seen, or as it is after `wait_seconds` (at most MAX_WAIT_SECONDS).

    `watching(instance_id)` is a context manager yielding an event set when the instance
    changes from then on: it is entered before the first read, so no change is missed.

    Raises:
        NotFound: no such instance, or not visible to this user.
    """
    wait_seconds = min(max(wait_seconds, 0.0), MAX_WAIT_SECONDS)
    with watching(instance_id) as changed:
        instance = access.visible_instance(user, instance_id)
        if seen_revision is None or instance.version != seen_revision or wait_seconds == 0:
            return instance
        db.session.rollback()  # the wait holds no snapshot and no connection
        changed.wait(wait_seconds)
    return access.visible_instance(user, instance_id)


def open_tasks(instance_id: int) -> list[HumanTask]:
    return open_tasks_by_instance([instance_id])[instance_id]


def open_tasks_of(instance: ProcessInstance) -> list[HumanTask]:
    """The open steps of an instance: as the save in this request left them, or read."""
    saved = getattr(instance, "open_task_rows", None)
    return saved if saved is not None else open_tasks(instance.id)


def open_tasks_by_instance(instance_ids: list[int]) -> dict[int, list[HumanTask]]:
    """Return the open steps of several instances at once (one query)."""
    found: dict[int, list[HumanTask]] = {i: [] for i in instance_ids}
    if not instance_ids:
        return found
    rows = db.session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id.in_(instance_ids), HumanTask.state == TaskState.OPEN)
        .order_by(HumanTask.id)
    )
    for row in rows:
        found[row.instance_id].append(row)
    return found


def completed_tasks(instance_id: int) -> list[HumanTask]:
    """Return the completed user steps of an instance, oldest first."""
    return list(
        db.session.scalars(
            select(HumanTask)
            .filter_by(instance_id=instance_id, state=TaskState.COMPLETED)
            .order_by(HumanTask.completed_at, HumanTask.id)
        )
    )


def events(instance_id: int) -> list[InstanceEvent]:
    return list(
        db.session.scalars(
            select(InstanceEvent).filter_by(instance_id=instance_id).order_by(InstanceEvent.id)
        )
    )


def jobs(instance_id: int) -> list[Job]:
    return list(db.session.scalars(select(Job).filter_by(instance_id=instance_id).order_by(Job.id)))


def comments(instance_id: int) -> list[InstanceComment]:
    return list(
        db.session.scalars(
            select(InstanceComment)
            .filter_by(instance_id=instance_id)
            .order_by(InstanceComment.created_at, InstanceComment.id)
        )
    )


def instance_data(instance: ProcessInstance) -> dict:
    """Return the request's business data as its last save stored it (a row saved before the
    column existed: from the workflow)."""
    if instance.data_json is not None:
        return instance.data_json
    return runtime.data(store.load_workflow(instance))


@dataclass(frozen=True)
class Snapshot:
    """An instance's business data, per-element states and the steps that may come next."""

    data: dict
    states: dict[str, str]
    upcoming: list[dict]


def snapshot(instance: ProcessInstance) -> Snapshot:
    """Deserialize the instance once and read data, step states and upcoming steps from it."""
    workflow = store.load_workflow(instance)
    return Snapshot(
        data=runtime.data(workflow),
        states=runtime.step_states(workflow),
        upcoming=[] if instance.is_finished else runtime.upcoming_steps(workflow),
    )


@dataclass(frozen=True)
class OutcomeView:
    """How a request ended (or why it stopped), in plain terms."""

    key: Outcome
    reason: str
    by: User | None
    at: datetime | None


def outcome_of(instance: ProcessInstance, history: list[InstanceEvent]) -> OutcomeView | None:
    """The request's outcome as its process set it: done, approved, rejected, cancelled, failed."""
    if instance.status == InstanceStatus.ERROR:
        return OutcomeView(Outcome.FAILED, "", None, instance.updated_at)
    if not instance.is_finished:
        return None
    key = Outcome(instance.outcome or Outcome.DONE)
    by = None
    if key == Outcome.CANCELLED:
        event = next((e for e in reversed(history) if e.kind == EventKind.CANCELLED), None)
        reason = (event.payload or {}).get("reason", "") if event else ""
        return OutcomeView(key, reason, event.actor if event else None, instance.completed_at)
    if key == Outcome.REJECTED:
        event = next(
            (
                e
                for e in reversed(history)
                if e.kind == EventKind.TASK_COMPLETED
                and (e.payload or {}).get("decision") == Decision.REJECTED
            ),
            None,
        )
        by = event.actor if event else None
    return OutcomeView(key, instance.outcome_reason or "", by, instance.completed_at)


def requests_query(user: User, *, state: str = "all", search: str | None = None):
    """Build the list of the user's own requests: state 'open', 'closed' or 'all'."""
    query = access.instances_query(user, scope="mine")
    if state == "open":
        query = query.where(ProcessInstance.status.in_(OPEN_STATUSES))
    elif state == "closed":
        query = query.where(ProcessInstance.status.not_in(OPEN_STATUSES))
    number = _request_number(search)
    if number is not None:
        query = query.where(ProcessInstance.id == number)
    elif search:
        pattern = f"%{_like(search)}%"
        query = query.where(
            or_(
                ProcessInstance.title.ilike(pattern, escape="\\"),
                ProcessInstance.title_zh.ilike(pattern, escape="\\"),
            )
        )
    return query


def inbox_query(
    user: User, *, scope: str, offering=None, due=None, search=None, sort="due", now: datetime
):
    """Build the inbox: access.tasks_query plus due filter, search and sort.

    `due`: 'overdue', 'today' (due before the end of the next 24 hours) or 'week'.
    `sort`: 'due' (soonest first, no due date last) or 'new' (newest first).
    """
    query = access.tasks_query(user, scope=scope, offering=offering).order_by(None)
    if due == "overdue":
        query = query.where(HumanTask.due_at < now)
    elif due in ("today", "week"):
        horizon = now + timedelta(days=1 if due == "today" else 7)
        query = query.where(HumanTask.due_at <= horizon)
    number = _request_number(search)
    if number is not None:
        query = query.where(HumanTask.instance_id == number)
    elif search:
        pattern = f"%{_like(search)}%"
        query = query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id).where(
            or_(
                ProcessInstance.title.ilike(pattern, escape="\\"),
                ProcessInstance.title_zh.ilike(pattern, escape="\\"),
                HumanTask.name.ilike(pattern, escape="\\"),
                ProcessInstance.business_key.ilike(pattern, escape="\\"),
            )
        )
    if sort == "new":
        return query.order_by(HumanTask.created_at.desc(), HumanTask.id.desc())
    return query.order_by(
        HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id
    )


def inbox_counts(user: User) -> dict[str, int]:
    """Count open tasks assigned to the user and waiting in their groups."""
    counts = {}
    for scope in ("mine", "groups"):
        query = access.tasks_query(user, scope=scope).order_by(None)
        counts[scope] = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return counts


def next_task_for(user: User, instance_id: int) -> HumanTask | None:
    """Return an open step of the instance that the user may work on now, if any."""
    for task in open_tasks(instance_id):
        if task.assignee_id == user.id or (
            task.assignee_id is None and access.is_candidate(user, task)
        ):
            return task
    return None


def decision_event(task: HumanTask, history: list[InstanceEvent]) -> InstanceEvent | None:
    """The history entry of a completed step (its decision and comment), if any."""
    for event in reversed(history):
        if event.kind == EventKind.TASK_COMPLETED and event.bpmn_id == task.bpmn_id:
            if event.actor_id == task.completed_by_id:
                return event
    return None


def _request_number(search: str | None) -> int | None:
    """ "#42" or "42" searches for request 42."""
    text = (search or "").strip().removeprefix("#")
    return int(text) if text.isdigit() and len(text) < 12 else None


def _like(text: str) -> str:
    return text.strip()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
