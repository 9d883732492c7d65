"""Requests (process instances): start, list, read with history, cancel."""

from types import SimpleNamespace

from flask_smorest import Blueprint

from api.v1.context import current_user, dispatcher
from api.v1.schemas import (
    CancelSchema,
    InstanceDetailSchema,
    InstanceListArgs,
    InstancePageSchema,
    InstanceStateSchema,
    StartInstanceSchema,
)
from engine.instances import access, reads, service

UNUSED_COLUMNS = {"workflow_json"}  # deferred, and not in any answer: never loaded for one
blp = Blueprint("instances", __name__, url_prefix="/api/v1/instances", description="Requests")


def state(instance) -> SimpleNamespace:
    """The instance with its open tasks and business data, for InstanceStateSchema.

    It holds the instance itself: the session's identity map is weak, and the open tasks'
    `instance` would otherwise be read again from the database once the view returns.
    """
    columns = [c.key for c in instance.__table__.columns if c.key not in UNUSED_COLUMNS]
    return SimpleNamespace(
        **{key: getattr(instance, key) for key in columns},
        instance=instance,
        process_version=instance.process_version,
        requested_by=instance.requested_by,
        open_tasks=reads.open_tasks(instance.id),
        data=reads.instance_data(instance),
    )


def detail(instance) -> SimpleNamespace:
    """state() plus the history, for InstanceDetailSchema."""
    view = state(instance)
    view.events = reads.events(instance.id)
    return view


@blp.post("")
@blp.arguments(StartInstanceSchema)
@blp.response(201, InstanceStateSchema)
def start(args):
    """Start a request of an offering with its start form's data."""
    instance = service.start_instance(
        args["offering"],
        args["data"],
        user=current_user(),
        dispatch=dispatcher(),
        title=args.get("title"),
        business_key=args.get("business_key"),
    )
    return state(instance), 201, {"Location": f"/api/v1/instances/{instance.id}"}


@blp.get("")
@blp.arguments(InstanceListArgs, location="query")
@blp.response(200, InstancePageSchema)
def list_instances(args):
    """List my requests (scope=mine) or everyone's (scope=all, agents), newest first."""
    query = access.instances_query(
        current_user(),
        scope=args["scope"],
        status=args.get("status"),
        offering=args.get("offering"),
    )
    items, total = reads.page(query, args["page"], args["page_size"])
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


@blp.get("/<int:instance_id>")
@blp.response(200, InstanceDetailSchema)
def get_instance(instance_id):
    """One request with its open tasks, data and history."""
    return detail(access.visible_instance(current_user(), instance_id))


@blp.post("/<int:instance_id>/cancel")
@blp.arguments(CancelSchema)
@blp.response(200, InstanceDetailSchema)
def cancel(args, instance_id):
    """Cancel a request that is not finished yet."""
    instance = service.cancel_instance(instance_id, user=current_user(), reason=args["reason"])
    return detail(instance)
