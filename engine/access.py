"""Who may see and act on what: per-object rules and the filtered queries built on them."""

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from engine.errors import Forbidden, NotFound
from engine.models import HumanTask, ProcessInstance, User, db

AGENT_ROLES = ("agent", "admin")
DEPLOY_ROLES = ("designer", "admin")


def can_see_all(user: User) -> bool:
    return user.has_role(*AGENT_ROLES)


def visible_instance(user: User, instance_id: int) -> ProcessInstance:
    """Return the instance if the user may see it: their own, an agent's, or one they work on.

    Raises:
        NotFound: no such instance, or not visible to this user (we do not confirm it exists).
    """
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or not _may_see(user, instance):
        raise NotFound(f"instance {instance_id}")
    return instance


def _may_see(user: User, instance: ProcessInstance) -> bool:
    if instance.requested_by_id == user.id or can_see_all(user):
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
                )
            )
            .limit(1)
        )
        is not None
    )


def check_can_work(user: User, task: HumanTask) -> None:
    """Raise Forbidden unless the task is the user's or their group's."""
    if task.assignee_id == user.id or task.candidate_group in user.group_keys:
        return
    if user.has_role("admin"):
        return
    raise Forbidden(f"task {task.task_id} belongs to group '{task.candidate_group}'")


def check_can_operate(user: User) -> None:
    """Raise Forbidden unless the user may handle incidents (agents and admins)."""
    if not user.has_role(*AGENT_ROLES):
        raise Forbidden("only agents and admins handle failed steps")


def check_can_deploy(user: User) -> None:
    if not user.has_role(*DEPLOY_ROLES):
        raise Forbidden("only designers and admins deploy processes")


def instances_query(user: User, *, scope: str, status=None, offering=None):
    """Build the instance list query: scope 'mine' (requested by me) or 'all' (agents only)."""
    query = select(ProcessInstance)
    if scope == "all":
        if not can_see_all(user):
            raise Forbidden("only agents and admins list all requests")
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
    for_groups = (HumanTask.candidate_group.in_(user.group_keys)) & (
        HumanTask.assignee_id.is_(None)
    )
    condition = {"mine": mine, "groups": for_groups}.get(scope, or_(mine, for_groups))
    query = (
        select(HumanTask)
        .where(HumanTask.state == "open")
        .where(condition)
        .options(selectinload(HumanTask.instance), selectinload(HumanTask.assignee))
    )
    if offering:
        query = query.where(HumanTask.offering_key == offering)
    return query.order_by(HumanTask.created_at, HumanTask.id)


def get_task(task_id: str) -> HumanTask:
    """Raises NotFound for an unknown task id."""
    task = db.session.scalar(select(HumanTask).filter_by(task_id=str(task_id)))
    if task is None:
        raise NotFound(f"task {task_id}")
    return task
