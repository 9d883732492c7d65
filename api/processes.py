"""Process versions: list, read, and deploy new BPMN (designers and admins)."""

from flask import current_app, request
from flask_smorest import Blueprint
from sqlalchemy import select

from api.auth import current_user
from api.schemas import VersionDetailSchema, VersionSchema
from engine import access, versions
from engine.errors import InvalidInput, InvalidProcess, NotFound
from engine.models import ProcessVersion, db
from engine.specs import KEY_PATTERN, parse_process
from workers.dispatch import OPERATION_NAMES

blp = Blueprint("processes", __name__, url_prefix="/api/v1/processes", description="Designer")
MAX_FILES = 20


@blp.get("")
@blp.response(200, VersionSchema(many=True))
def list_versions():
    """Every deployed version of every process, newest first."""
    return db.session.scalars(
        select(ProcessVersion).order_by(ProcessVersion.process_key, ProcessVersion.version.desc())
    ).all()


@blp.get("/<string:key>/versions/<int:number>")
@blp.response(200, VersionDetailSchema)
def get_version(key, number):
    """One version with its BPMN files."""
    version = db.session.scalar(select(ProcessVersion).filter_by(process_key=key, version=number))
    if version is None:
        raise NotFound(f"version {number} of '{key}'")
    return version


def _uploaded_files(key: str) -> dict[str, bytes]:
    if request.files:
        uploads = request.files.getlist("file")
        if not uploads or len(uploads) > MAX_FILES:
            raise InvalidInput(
                "Send 1 to 20 BPMN files in the 'file' field.", errors={"file": ["Required."]}
            )
        files = {}
        for upload in uploads:
            name = (upload.filename or "").rsplit("/", 1)[-1]
            if not name.endswith(".bpmn"):
                raise InvalidInput(
                    "Only .bpmn files are accepted.",
                    errors={"file": [f"{name!r} is not a .bpmn file."]},
                )
            files[name] = upload.read()
        return files
    body = request.get_data(cache=False)
    if not body:
        raise InvalidInput(
            "Send BPMN XML as the body or as multipart 'file' fields.",
            errors={"file": ["Required."]},
        )
    return {request.args.get("filename", f"{key}.bpmn"): body}


@blp.post("/<string:key>/versions")
@blp.response(201, VersionSchema)
def deploy(key):
    """Deploy BPMN (XML body, or multipart 'file' fields): a new version unless unchanged."""
    user = current_user()
    access.check_can_deploy(user)
    if not KEY_PATTERN.match(key):
        raise InvalidInput(f"'{key}' is not a valid process key.", errors={"key": ["Invalid."]})
    parsed = parse_process(key, _uploaded_files(key))
    flowdesk = current_app.extensions["flowdesk"]
    flowdesk.forms.check_process(parsed.form_keys())
    unknown = sorted(parsed.operation_names() - OPERATION_NAMES)
    if unknown:
        raise InvalidProcess(
            f"unknown operation(s): {', '.join(unknown)}",
            problems=[
                {"file": None, "line": None, "id": n, "message": "unknown operation"}
                for n in unknown
            ],
        )
    version, created = versions.publish(parsed, user_id=user.id)
    return (
        version,
        201 if created else 200,
        {"Location": f"/api/v1/processes/{key}/versions/{version.version}"},
    )
