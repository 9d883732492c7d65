"""Process versions: list, read, and deploy new offering bundles (designers and admins)."""

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.v1 import openapi
from api.v1.context import current_user, operation_names
from api.v1.schemas import VersionDetailSchema, VersionSchema
from engine.catalog import reads as catalog
from engine.catalog import service
from engine.catalog.bundles import FORMS_FOLDER, MAX_FILES, is_bpmn, is_dmn
from engine.catalog.service import KEY_PATTERN, KEY_RULE
from engine.errors import InvalidInput
from engine.identity import roles

blp = Blueprint("processes", __name__, url_prefix="/api/v1/processes", description="Designer")


@blp.get("")
@blp.doc(
    operationId="listProcessVersions",
    **openapi.links(
        200,
        getProcessVersion={
            "key": "$response.body#/0/process_key",
            "number": "$response.body#/0/version",
        },
    ),
)
@blp.response(200, VersionSchema(many=True))
def list_versions():
    """Every deployed version of every process, newest first (designers and admins)."""
    roles.check_deploys(current_user())
    return catalog.versions()


@blp.get("/<offering_key:key>/versions/<int:number>")
@blp.doc(operationId="getProcessVersion")
@blp.response(200, VersionDetailSchema)
def get_version(key, number):
    """One version with its BPMN files and forms (designers and admins)."""
    roles.check_deploys(current_user())
    return catalog.version(key, number)


def _uploaded_files(default_name: str) -> dict[str, bytes]:
    """The bundle's files: multipart 'file' fields (.bpmn and forms' .json), or one XML body."""
    if request.files:
        uploads = request.files.getlist("file")
        if not uploads or len(uploads) > MAX_FILES:
            raise InvalidInput(
                f"Send 1 to {MAX_FILES} files in the 'file' field.", errors={"file": ["Required."]}
            )
        files = {}
        for upload in uploads:
            name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
            if is_bpmn(name) or is_dmn(name):
                files[name] = upload.read()
            elif name.endswith(".json"):
                files[FORMS_FOLDER + name] = upload.read()
            else:
                raise InvalidInput(
                    "Only .bpmn, .bpmn20.xml and .dmn files and forms (.json) are accepted.",
                    errors={"file": [f"{name!r} is neither a BPMN or DMN file nor a form."]},
                )
        return files
    body = request.get_data(cache=False)
    if not body:
        raise InvalidInput(
            "Send BPMN XML as the body or as multipart 'file' fields.",
            errors={"file": ["Required."]},
        )
    name = request.args.get("filename") or default_name
    return {name if is_bpmn(name) else f"{name}.bpmn": body}


BUNDLE_BODY = {
    "required": True,
    "description": "One BPMN file as the body, or a bundle's files as multipart 'file' fields "
    "(.bpmn files and forms as .json)",
    "content": {
        "application/xml": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
                "required": ["file"],
            }
        },
    },
}


@blp.post("/<offering_key:key>/versions")
@blp.doc(
    operationId="deployProcess",
    **openapi.links(
        201,
        getProcessVersion={
            "key": "$response.body#/process_key",
            "number": "$response.body#/version",
        },
    ),
)
@blp.doc(requestBody=BUNDLE_BODY)
@blp.response(201, VersionSchema)
@blp.alt_response(200, schema=VersionSchema, description="The same content is deployed already")
def deploy(key):
    """Deploy a bundle (BPMN and forms): a new version unless unchanged.

    What is not sent comes from the latest version: its BPMN files when none is sent, and each
    form not sent again.
    """
    user = current_user()
    roles.check_deploys(user)
    version, created = service.publish(
        key, _uploaded_files(f"{key}.bpmn"), user_id=user.id, operations=operation_names()
    )
    return (
        version,
        201 if created else 200,
        {"Location": f"/api/v1/processes/{key}/versions/{version.version}"},
    )


class ImportArgs(Schema):
    key = fields.String(
        validate=validate.Regexp(KEY_PATTERN, error=f"An offering key has {KEY_RULE}."),
        metadata={"description": "The offering key; derived from the process id when not given"},
    )
    process_id = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "The main process, when the files hold several"},
    )
    filename = fields.String(validate=validate.Length(min=1, max=255))


@blp.post("")
@blp.doc(
    operationId="importProcess",
    **openapi.links(
        201,
        getProcessVersion={
            "key": "$response.body#/process_key",
            "number": "$response.body#/version",
        },
    ),
)
@blp.arguments(ImportArgs, location="query")
@blp.doc(requestBody=BUNDLE_BODY)
@blp.response(201, VersionSchema)
@blp.alt_response(200, schema=VersionSchema, description="The same content is deployed already")
def import_process(args):
    """Deploy a BPMN file or bundle written by any modeler (Camunda, Flowable, bpmn.io, Spiff).

    Any valid BPMN process id works as it is (`Process_1`, `sid-…`): the offering key is the
    one chosen, or derived from the id (lowercase, other characters `_`, `_2` when taken by
    another process); the process id is kept.
    """
    user = current_user()
    roles.check_deploys(user)
    version, created = service.import_files(
        _uploaded_files(args.get("filename") or "process.bpmn"),
        user_id=user.id,
        operations=operation_names(),
        key=args.get("key"),
        process_id=args.get("process_id"),
    )
    location = f"/api/v1/processes/{version.process_key}/versions/{version.version}"
    return version, 201 if created else 200, {"Location": location}
