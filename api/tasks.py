"""Inbox: open steps for me and my groups; read, claim, unclaim, complete."""

from types import SimpleNamespace

from flask_smorest import Blueprint
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from api.auth import current_user
from api.forms import form_definition, load_form_data
from api.instances import dispatcher, state
from api.schemas import (
    CompleteTaskSchema,
    InstanceStateSchema,
    TaskDetailSchema,
    TaskListArgs,
    TaskPageSchema,
    TaskSchema,
)
from engine import access, queries, service

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Inbox")
_TEMPLATES = SandboxedEnvironment(autoescape=False)  # JSON carries plain text; pages escape


def _instructions(task) -> str | None:
    if not task.instructions:
        return None
    try:
        data = queries.instance_data(task.instance)
        return _TEMPLATES.from_string(task.instructions).render(**data)
    except TemplateError:  # a designer's template error must not hide the task
        return task.instructions


@blp.get("")
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, TaskPageSchema)
def list_tasks(args):
    """Open tasks: assigned to me (scope=mine), to my groups (groups), or both (all)."""
    query = access.tasks_query(current_user(), scope=args["scope"], offering=args.get("offering"))
    items, total = queries.page(query, args["page"], args["page_size"])
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


@blp.get("/<string:task_id>")
@blp.response(200, TaskDetailSchema)
def get_task(task_id):
    """One task with its form definition and rendered instructions."""
    task = access.get_task(task_id)
    access.check_can_work(current_user(), task)
    view = {column.key: getattr(task, column.key) for column in task.__table__.columns}
    view.update(
        instance=task.instance,
        assignee=task.assignee,
        completed_by=task.completed_by,
        instructions=_instructions(task),
        form=form_definition(task.instance.process_version, task.form_key),
    )
    return SimpleNamespace(**view)


@blp.post("/<string:task_id>/claim")
@blp.response(200, TaskSchema)
def claim(task_id):
    """Take a group task for myself."""
    return service.claim_task(task_id, user=current_user())


@blp.post("/<string:task_id>/unclaim")
@blp.response(200, TaskSchema)
def unclaim(task_id):
    """Give a task back to its group."""
    return service.unclaim_task(task_id, user=current_user())


@blp.post("/<string:task_id>/complete")
@blp.arguments(CompleteTaskSchema)
@blp.response(202, InstanceStateSchema)
def complete(args, task_id):
    """Complete a task with its form's data; the request moves on."""
    task = access.get_task(task_id)
    access.check_can_work(current_user(), task)
    data = load_form_data(task.instance.process_version, task.form_key, args["data"])
    instance = service.complete_task(
        task.instance_id, task_id, data, user=current_user(), dispatch=dispatcher()
    )
    return state(instance), 202, {"Location": f"/api/v1/instances/{instance.id}"}
