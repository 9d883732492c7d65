"""Who may see and act on which request and step: per-object rules and the filtered queries."""

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload, undefer

from engine.catalog import reads as catalog
from engine.db import db, is_row_id
from engine.errors import Conflict, Forbidden, NotFound
from engine.identity import roles
from engine.identity.models import User
from engine.instances.models import HumanTask, ProcessInstance, TaskCandidate, TaskState


def _candidate_of(user: User):
    """SQL: the task lists the user, or one of their groups, among its further candidates."""
    return HumanTask.id.in_(
        select(TaskCandidate.human_task_id).where(
            or_(TaskCandidate.user_id == user.id, TaskCandidate.group_key.in_(user.group_keys))
        )
    )


def is_candidate(user: User, task: HumanTask) -> bool:
    """The user is in the task's group, in one of its further groups, or named by it."""
    if task.candidate_group in user.group_keys:
        return True
    groups = user.group_keys
    return any(c.user_id == user.id or c.group_key in groups for c in task.candidates)


def visible_instance(user: User, instance_id: int) -> ProcessInstance:
    """Return the instance if the user may see it: their own, an agent's, or one they work on.

    Raises:
        NotFound: no such instance, or not visible to this user (we do not confirm it exists).
    """
    instance = (
        db.session.get(ProcessInstance, instance_id, options=[undefer(ProcessInstance.data_json)])
        if is_row_id(instance_id)
        else None
    )
    if instance is None or not _may_see(user, instance):
        raise NotFound(f"instance {instance_id}")
    return instance


def scoped_offerings(user: User) -> list[str] | None:
    """The offerings whose requests an agent handles; None for every offering.

    An agent with a department (set by an admin or synced from the directory) handles the
    requests of the offerings whose catalog metadata names that department: HR agents see HR's
    requests, IT agents IT's. Admins, and agents without a department, handle every request.
    """
    if not user.department or roles.administers(user):
        return None
    return catalog.offerings_of_department(user.department)


def handles(user: User, instance: ProcessInstance) -> bool:
    """The user is an agent (or admin) whose department scope holds this request."""
    if not roles.sees_all_requests(user):
        return False
    offerings = scoped_offerings(user)
    return offerings is None or instance.offering_key in offerings


def _may_see(user: User, instance: ProcessInstance) -> bool:
    if instance.requested_by_id == user.id or handles(user, instance):
        return True
    groups = user.group_keys
    return (
        db.session.scalar(
            select(HumanTask.id)
            .where(HumanTask.instance_id == instance.id)
            .where(
                or_(
                    HumanTask.candidate_group.in_(groups),
                    HumanTask.assignee_id == user.id,
                    HumanTask.completed_by_id == user.id,
                    _candidate_of(user),
                )
            )
            .limit(1)
        )
        is not None
    )


def can_cancel(user: User, instance: ProcessInstance) -> bool:
    """Its requester or an agent cancels a request that has not finished."""
    if instance.is_finished:
        return False
    return instance.requested_by_id == user.id or handles(user, instance)


def check_can_cancel(user: User, instance: ProcessInstance) -> None:
    """Raises Forbidden or Conflict unless the user may cancel the request now."""
    if instance.requested_by_id != user.id and not handles(user, instance):
        raise Forbidden("only the requester or an agent cancels a request")
    if instance.is_finished:
        raise Conflict(f"instance {instance.id} is already {instance.status}")


def may_work(user: User, task: HumanTask) -> bool:
    """The task is the user's, their group's, or the user is an admin."""
    return task.assignee_id == user.id or is_candidate(user, task) or roles.acts_on_any_step(user)


def check_can_work(user: User, task: HumanTask) -> None:
    """Raise Forbidden unless the task is the user's or their group's."""
    if not may_work(user, task):
        raise Forbidden(f"task {task.task_id} belongs to group '{task.candidate_group}'")


def check_open(task: HumanTask) -> None:
    """Raise Conflict unless the task is still open."""
    if task.state != TaskState.OPEN:
        raise Conflict(f"task {task.task_id} is already {task.state}")


def check_open_for(user: User, task: HumanTask) -> None:
    """Raise Conflict unless the task is open and not claimed by someone else."""
    check_open(task)
    if task.assignee_id not in (None, user.id):
        raise Conflict(f"task {task.task_id} is claimed by {task.assignee.username}")


def can_act(user: User, task: HumanTask) -> bool:
    """The user may complete the task now: it is open and not someone else's."""
    return task.state == TaskState.OPEN and task.assignee_id in (None, user.id)


def instances_query(user: User, *, scope: str, status=None, offering=None):
    """Build the instance list query: scope 'mine' (requested by me) or 'all' (agents only)."""
    query = select(ProcessInstance)
    if scope == "all":
        roles.check_sees_all_requests(user)
        offerings = scoped_offerings(user)
        if offerings is not None:
            query = query.where(ProcessInstance.offering_key.in_(offerings))
    else:
        query = query.where(ProcessInstance.requested_by_id == user.id)
    if status:
        query = query.where(ProcessInstance.status == status)
    if offering:
        query = query.where(ProcessInstance.offering_key == offering)
    return query.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())


def tasks_query(user: User, *, scope: str, offering=None):
    """Build the open-task query: scope 'mine' (assigned to me), 'groups' or 'all' (both)."""
    mine = HumanTask.assignee_id == user.id
    for_groups = or_(HumanTask.candidate_group.in_(user.group_keys), _candidate_of(user)) & (
        HumanTask.assignee_id.is_(None)
    )
    condition = {"mine": mine, "groups": for_groups}.get(scope, or_(mine, for_groups))
    query = (
        select(HumanTask)
        .where(HumanTask.state == TaskState.OPEN)
        .where(condition)
        .options(selectinload(HumanTask.instance), selectinload(HumanTask.assignee))
    )
    if offering:
        query = query.where(HumanTask.offering_key == offering)
    return query.order_by(HumanTask.created_at, HumanTask.id)


def get_task(task_id: str) -> HumanTask:
    """Raises NotFound for an unknown task id."""
    task_id = str(task_id)
    task = (
        db.session.scalar(select(HumanTask).filter_by(task_id=task_id))
        if len(task_id) <= 36
        else None
    )
    if task is None:
        raise NotFound(f"task {task_id}")
    return task
