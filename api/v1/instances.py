"""Requests (process instances): start, list, read with history, cancel."""

from pathlib import Path
from types import SimpleNamespace

from flask import current_app, request
from flask_smorest import Blueprint

from api.v1 import openapi
from api.v1.context import changes, current_user, dispatcher
from api.v1.schemas import (
    AttachmentSchema,
    CancelSchema,
    CommentSchema,
    InstanceDetailSchema,
    InstanceListArgs,
    InstancePageSchema,
    InstanceStateSchema,
    InstanceWaitArgs,
    NewCommentSchema,
    StartInstanceSchema,
)
from engine.errors import InvalidInput
from engine.instances import access, attachments, reads, service

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        }
    },
}
UNUSED_COLUMNS = {"workflow_json", "data_json"}  # deferred; data_json answers as `data`
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
        open_tasks=reads.open_tasks_of(instance),
        data=reads.instance_data(instance),
    )


def detail(instance) -> SimpleNamespace:
    """state() plus the history, for InstanceDetailSchema."""
    view = state(instance)
    view.events = reads.events(instance.id)
    return view


@blp.post("")
@blp.doc(operationId="startInstance", **openapi.instance_links(201, ""))
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
@blp.doc(operationId="listInstances", **openapi.instance_links(200, "/items/0"))
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
@blp.doc(operationId="getInstance")
@blp.arguments(InstanceWaitArgs, location="query")
@blp.response(200, InstanceDetailSchema)
def get_instance(args, instance_id):
    """One request with its open tasks, data and history.

    With `revision` and `wait`, a long poll: the answer comes once the request changes from
    that revision (a step done, a job finished, a step claimed), or after `wait` seconds.
    """
    instance = reads.instance_after(
        current_user(), instance_id, seen_revision=args.get("revision"),
        wait_seconds=args["wait"], watching=changes().watching,
    )  # fmt: skip
    return detail(instance)


@blp.post("/<int:instance_id>/cancel")
@blp.doc(operationId="cancelInstance")
@blp.arguments(CancelSchema)
@blp.response(200, InstanceDetailSchema)
def cancel(args, instance_id):
    """Cancel a request that is not finished yet."""
    instance = service.cancel_instance(instance_id, user=current_user(), reason=args["reason"])
    return detail(instance)


@blp.get("/<int:instance_id>/comments")
@blp.doc(operationId="listComments")
@blp.response(200, CommentSchema(many=True))
def list_comments(instance_id):
    """The comments on a request, oldest first."""
    access.visible_instance(current_user(), instance_id)
    return reads.comments(instance_id)


@blp.post("/<int:instance_id>/comments")
@blp.doc(operationId="addComment")
@blp.arguments(NewCommentSchema)
@blp.response(201, CommentSchema)
def add_comment(args, instance_id):
    """Comment on a request you can see."""
    return service.add_comment(instance_id, args["body"], user=current_user())


@blp.get("/<int:instance_id>/attachments")
@blp.doc(operationId="listAttachments")
@blp.response(200, AttachmentSchema(many=True))
def list_attachments(instance_id):
    """The files linked to a request."""
    access.visible_instance(current_user(), instance_id)
    return attachments.linked(instance_id)


@blp.post("/attachments")
@blp.doc(operationId="uploadAttachment", requestBody=UPLOAD_BODY)
@blp.response(201, AttachmentSchema)
def upload():
    """Upload a file (multipart field 'file'); put the answer into a form's file field."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(
            "Send the file in the multipart field 'file'.", errors={"file": ["Required."]}
        )
    config = current_app.config
    return service.upload_attachment(
        upload.stream,
        upload.filename,
        upload.mimetype,
        user=current_user(),
        storage=Path(config["ATTACHMENTS_DIR"]),
        max_bytes=int(config["ATTACHMENT_MAX_BYTES"]),
        allowed_types=set(config["ATTACHMENT_TYPES"]),
    )
