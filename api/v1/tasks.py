"""Inbox: open steps for me and my groups; read, claim, unclaim, reassign, complete."""

from types import SimpleNamespace

from flask_smorest import Blueprint

from api.v1 import openapi
from api.v1.context import current_user, dispatcher
from api.v1.instances import state
from api.v1.schemas import (
    CompleteTaskSchema,
    InstanceStateSchema,
    ReassignSchema,
    TaskDetailSchema,
    TaskListArgs,
    TaskPageSchema,
    TaskSchema,
)
from engine.catalog import reads as catalog
from engine.catalog import texts
from engine.instances import access, reads, service

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Inbox")


@blp.get("")
@blp.doc(operationId="listTasks", **openapi.task_links(200, "/items/0"))
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, TaskPageSchema)
def list_tasks(args):
    """Open tasks: assigned to me (scope=mine), to my groups (groups), or both (all)."""
    query = access.tasks_query(current_user(), scope=args["scope"], offering=args.get("offering"))
    items, total = reads.page(query, args["page"], args["page_size"])
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


@blp.get("/<string:task_id>")
@blp.doc(operationId="getTask")
@blp.response(200, TaskDetailSchema)
def get_task(task_id):
    """One task with its form definition and its instructions in both languages."""
    task = access.get_task(task_id)
    access.check_can_work(current_user(), task)
    version = task.instance.process_version
    step = catalog.steps(version).get(task.bpmn_id)
    data = reads.instance_data(task.instance) if step and step.spec.instructions else {}
    shown = {
        lang: texts.instructions(step, version, data, lang) if step else None
        for lang in texts.LANGS
    }
    form = catalog.form_of(version, task.form_key)
    view = {column.key: getattr(task, column.key) for column in task.__table__.columns}
    view.update(
        instance=task.instance,
        assignee=task.assignee,
        completed_by=task.completed_by,
        instructions=shown["en"],
        instructions_zh=shown["zh"],
        form=form.to_dict() if form else None,
    )
    return SimpleNamespace(**view)


@blp.post("/<string:task_id>/claim")
@blp.doc(operationId="claimTask", **openapi.task_links(200, ""))
@blp.response(200, TaskSchema)
def claim(task_id):
    """Take a group task for myself."""
    return service.claim_task(task_id, user=current_user())


@blp.post("/<string:task_id>/unclaim")
@blp.doc(operationId="unclaimTask", **openapi.task_links(200, ""))
@blp.response(200, TaskSchema)
def unclaim(task_id):
    """Give a task back to its group."""
    return service.unclaim_task(task_id, user=current_user())


@blp.post("/<string:task_id>/reassign")
@blp.doc(operationId="reassignTask", **openapi.task_links(200, ""))
@blp.arguments(ReassignSchema)
@blp.response(200, TaskSchema)
def reassign(args, task_id):
    """Hand a task to another member of its group."""
    return service.reassign_task(task_id, args["assignee"], user=current_user())


@blp.post("/<string:task_id>/complete")
@blp.doc(operationId="completeTask", **openapi.instance_links(202, ""))
@blp.arguments(CompleteTaskSchema)
@blp.response(202, InstanceStateSchema)
def complete(args, task_id):
    """Complete a task with its form's data; the request moves on."""
    instance = service.complete_task(
        task_id, args["data"], user=current_user(), dispatch=dispatcher()
    )
    return state(instance), 202, {"Location": f"/api/v1/instances/{instance.id}"}
