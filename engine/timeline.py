"""Read-only views of requests for the web: timeline snapshot, step names, inbox and lists.

Nothing here writes. Each function loads what one page needs with as few queries as possible;
a workflow is deserialized at most once per call (`snapshot`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from engine import access, runtime, store, versions
from engine.models import (
    Attachment,
    Group,
    HumanTask,
    InstanceComment,
    InstanceEvent,
    Job,
    ProcessInstance,
    ProcessVersion,
    User,
    db,
)

HUMAN_KINDS = ("UserTask", "ManualTask")
OPEN_STATUSES = ("running", "user_input_required", "waiting", "error")
DUE_FILTERS = ("overdue", "today", "week")
FAILURE_EVENTS = ("failed", "job_failed", "incident")


@dataclass(frozen=True)
class StepInfo:
    """What the web shows about one BPMN element: its names, lane and form."""

    bpmn_id: str
    name: str
    name_zh: str | None
    lane: str | None
    kind: str
    form_key: str | None


@dataclass(frozen=True)
class Snapshot:
    """An instance's business data, per-element states and the steps that may come next."""

    data: dict
    states: dict[str, str]
    upcoming: list[dict]


def snapshot(instance: ProcessInstance) -> Snapshot:
    """Deserialize the instance once and read data, step states and upcoming steps from it."""
    workflow = store.load_workflow(instance)
    finished = instance.status in ("complete", "cancelled")
    return Snapshot(
        data=runtime.data(workflow),
        states=runtime.step_states(workflow),
        upcoming=[] if finished else runtime.upcoming_steps(workflow),
    )


def step_infos(version: ProcessVersion) -> dict[str, StepInfo]:
    """Map each BPMN element id of a version (subprocesses included) to its StepInfo."""
    spec, subprocess_specs = versions.specs_for(version)
    infos: dict[str, StepInfo] = {}
    for process in [spec, *subprocess_specs.values()]:
        for task_spec in process.task_specs.values():
            info = _info(task_spec)
            if info is not None:
                infos.setdefault(info.bpmn_id, info)
    for bpmn_id in version.meta.get("embedded_forms", {}):
        if bpmn_id in infos and not infos[bpmn_id].form_key:
            old = infos[bpmn_id]
            infos[bpmn_id] = StepInfo(old.bpmn_id, old.name, old.name_zh, old.lane, old.kind,
                                      f"embedded:{bpmn_id}")  # fmt: skip
    return infos


def _info(task_spec) -> StepInfo | None:
    bpmn_id = getattr(task_spec, "bpmn_id", None)
    if not bpmn_id:
        return None
    props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
    return StepInfo(
        bpmn_id=bpmn_id,
        name=task_spec.bpmn_name or bpmn_id,
        name_zh=props.get("name_zh") or None,
        lane=task_spec.lane,
        kind=type(task_spec).__name__,
        form_key=props.get("form") or None,
    )


def outline(version: ProcessVersion) -> list[dict]:
    """Return the human steps of an offering in process order: {info, conditional, parent}.

    A step reached only through a boundary event (a reminder or escalation) is `conditional`:
    it happens only when needed. `parent` is the BPMN id of the subprocess holding the step.
    """
    spec, subprocess_specs = versions.specs_for(version)
    return _walk(spec, subprocess_specs, conditional=False, parent=None, depth=0)


def _walk(process_spec, subprocess_specs: dict, *, conditional: bool, parent, depth: int) -> list:
    queue, seen, steps = [(process_spec.start, conditional)], set(), []
    while queue:
        task_spec, branch = queue.pop(0)
        if task_spec.name in seen:
            continue
        seen.add(task_spec.name)
        kind = type(task_spec).__name__
        if kind in HUMAN_KINDS:
            steps.append({"info": _info(task_spec), "conditional": branch, "parent": parent})
        if kind == "SubWorkflowTask" and task_spec.spec in subprocess_specs and depth < 5:
            sub = subprocess_specs[task_spec.spec]
            steps.extend(_walk(sub, subprocess_specs, conditional=branch,
                               parent=task_spec.bpmn_id, depth=depth + 1))  # fmt: skip
        branch = branch or kind == "BoundaryEvent"
        queue.extend((output, branch) for output in task_spec.outputs)
    return steps


def lanes(version: ProcessVersion) -> list[str]:
    """Return the lanes of the human steps of an offering, in process order."""
    found = []
    for step in outline(version):
        lane = step["info"].lane
        if lane and lane not in found:
            found.append(lane)
    return found


def groups() -> dict[str, Group]:
    """Return every group by key (a small table, read once per page)."""
    return {g.key: g for g in db.session.scalars(select(Group))}


def group_members(key: str | None) -> list[User]:
    """Return the active members of a group, by display name."""
    if not key:
        return []
    group = db.session.scalar(select(Group).filter_by(key=key))
    if group is None:
        return []
    return sorted((u for u in group.members if u.is_active), key=lambda u: u.display_name)


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
        query = query.where(ProcessInstance.title.ilike(f"%{_like(search)}%", escape="\\"))
    return query


def open_tasks_by_instance(instance_ids: list[int]) -> dict[int, list[HumanTask]]:
    """Return the open steps of several instances at once (one query)."""
    found: dict[int, list[HumanTask]] = {i: [] for i in instance_ids}
    if not instance_ids:
        return found
    rows = db.session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id.in_(instance_ids), HumanTask.state == "open")
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
            .filter_by(instance_id=instance_id, state="completed")
            .order_by(HumanTask.completed_at, HumanTask.id)
        )
    )


def comments(instance_id: int) -> list[InstanceComment]:
    return list(
        db.session.scalars(
            select(InstanceComment)
            .filter_by(instance_id=instance_id)
            .order_by(InstanceComment.created_at, InstanceComment.id)
        )
    )


def attachments(instance_id: int) -> list[Attachment]:
    return list(
        db.session.scalars(
            select(Attachment).filter_by(instance_id=instance_id).order_by(Attachment.id)
        )
    )


def referenced_attachment_ids(data) -> set[int]:
    """Return the ids of every `{"attachment_id": n, ...}` file value inside request data."""
    found: set[int] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("attachment_id"), int):
                found.add(value["attachment_id"])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def inbox_query(user: User, *, scope: str, offering=None, due=None, search=None, sort="due",
                now: datetime):  # fmt: skip
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
    for task in open_tasks_by_instance([instance_id])[instance_id]:
        if task.assignee_id == user.id or (
            task.assignee_id is None and task.candidate_group in user.group_keys
        ):
            return task
    return None


def failed_instances_query():
    """Build the list of instances in status error, most recently changed first."""
    return (
        select(ProcessInstance)
        .where(ProcessInstance.status == runtime.InstanceStatus.ERROR)
        .order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())
    )


def failed_jobs(instance_ids: list[int]) -> dict[int, list[Job]]:
    """Return the failed job rows of several instances (one query)."""
    found: dict[int, list[Job]] = {i: [] for i in instance_ids}
    if instance_ids:
        rows = db.session.scalars(
            select(Job)
            .where(Job.instance_id.in_(instance_ids), Job.status == "failed")
            .order_by(Job.updated_at.desc())
        )
        for row in rows:
            found[row.instance_id].append(row)
    return found


def last_failures(instance_ids: list[int]) -> dict[int, InstanceEvent]:
    """Return the newest failure event of each instance (one query)."""
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


def jobs(instance_id: int) -> list[Job]:
    return list(db.session.scalars(select(Job).filter_by(instance_id=instance_id).order_by(Job.id)))


def _request_number(search: str | None) -> int | None:
    """ "#42" or "42" searches for request 42."""
    text = (search or "").strip().removeprefix("#")
    return int(text) if text.isdigit() and len(text) < 12 else None


def _like(text: str) -> str:
    return text.strip()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
