"""Uploaded files: stored once by content hash; the uploader's until a request links them.

Only files linked to a request are served, and only to people who may see that request. A
request's data names its files as `{"attachment_id": n, ...}` values; the unit of work that takes
the data links them, after checking that each one is the submitter's own unlinked upload.
"""

import hashlib
import re
from pathlib import Path

from sqlalchemy import select

from engine.db import db, is_row_id
from engine.errors import InvalidInput, NotFound
from engine.identity.models import User
from engine.instances.models import Attachment, ProcessInstance
from forms.messages import FieldError, as_problem

_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def path_of(storage: Path, sha256: str) -> Path:
    """Where a file's content lives: by hash, so the same content is stored once."""
    return Path(storage) / sha256[:2] / sha256


def store_file(
    stream,
    filename: str,
    content_type: str,
    *,
    storage: Path,
    max_bytes: int,
    allowed_types: set[str],
) -> dict:
    """Write an upload's content to storage; return the row's values (no row yet).

    Raises:
        InvalidInput: too large, empty, or a type that is not allowed.
    """
    content_type = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if content_type not in allowed_types:
        raise _file_error(f"Files of type {content_type} are not accepted.", "file_type")
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _file_error("The file is too large.", "file_too_large", num=max_bytes // 2**20)
    if not data:
        raise _file_error("The file is empty.", "file_empty")
    digest = hashlib.sha256(data).hexdigest()
    path = path_of(storage, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    name = _SAFE_NAME.sub("_", Path(filename or "file").name)[:200] or "file"
    return {"filename": name, "content_type": content_type, "size": len(data), "sha256": digest}


def _file_error(detail: str, code: str, **params) -> InvalidInput:
    return InvalidInput(detail, **as_problem({"file": [FieldError(code, params)]}))


def referenced_ids(data) -> set[int]:
    """The ids of every `{"attachment_id": n, ...}` file value inside request data."""
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


def link_referenced(data, instance: ProcessInstance, *, user: User) -> None:
    """Link the files the data names to the request (in the caller's transaction).

    Raises:
        InvalidInput: a file is unknown, not the user's, or belongs to another request.
    """
    for attachment_id in sorted(referenced_ids(data)):
        row = db.session.get(Attachment, attachment_id) if is_row_id(attachment_id) else None
        if (
            row is None
            or row.instance_id not in (None, instance.id)
            or (row.instance_id is None and row.uploaded_by_id != user.id)
        ):
            raise InvalidInput(
                "Unknown attachment.",
                **as_problem({"file": [FieldError("file_unknown")]}),
            )
        row.instance_id = instance.id


def linked(instance_id: int) -> list[Attachment]:
    return list(
        db.session.scalars(
            select(Attachment).filter_by(instance_id=instance_id).order_by(Attachment.id)
        )
    )


def readable(instance: ProcessInstance, attachment_id: int, *, storage: Path):
    """Return (row, path) of a file linked to this request (the caller checked who may see it).

    Raises:
        NotFound: unknown, not linked to this request, or its content is missing.
    """
    row = db.session.get(Attachment, attachment_id) if is_row_id(attachment_id) else None
    if row is None or row.instance_id != instance.id:
        raise NotFound(f"attachment {attachment_id}")
    path = path_of(storage, row.sha256)
    if not path.is_file():
        raise NotFound(f"attachment {attachment_id}")
    return row, path
