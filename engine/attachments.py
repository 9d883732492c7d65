"""Uploaded files: stored once by content hash, readable by the people on the request."""

import hashlib
import re
from pathlib import Path

from engine import access
from engine.errors import InvalidInput, NotFound
from engine.models import Attachment, User, db

_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def save(
    stream,
    filename: str,
    content_type: str,
    *,
    user: User,
    storage: Path,
    max_bytes: int,
    allowed_types: set[str],
) -> Attachment:
    """Store an upload and return its (not yet linked) row; the caller commits.

    Raises:
        InvalidInput: too large, empty, or a type that is not allowed.
    """
    content_type = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if content_type not in allowed_types:
        raise InvalidInput(
            f"Files of type {content_type} are not accepted.",
            errors={"file": [f"Type {content_type} is not allowed."]},
        )
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidInput(
            "The file is too large.", errors={"file": [f"At most {max_bytes} bytes."]}
        )
    if not data:
        raise InvalidInput("The file is empty.", errors={"file": ["The file is empty."]})
    digest = hashlib.sha256(data).hexdigest()
    path = Path(storage) / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    name = _SAFE_NAME.sub("_", Path(filename or "file").name)[:200] or "file"
    row = Attachment(
        uploaded_by_id=user.id,
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256=digest,
    )
    db.session.add(row)
    db.session.flush()
    return row


def link(attachment_ids: list[int], instance_id: int, *, user: User) -> None:
    """Attach the user's unlinked uploads to a request (in the caller's transaction).

    Raises:
        InvalidInput: an id is unknown, not the user's, or already linked elsewhere.
    """
    for attachment_id in attachment_ids:
        row = db.session.get(Attachment, attachment_id)
        if (
            row is None
            or row.uploaded_by_id != user.id
            or row.instance_id not in (None, instance_id)
        ):
            raise InvalidInput(
                "Unknown attachment.", errors={"file": [f"Unknown file {attachment_id}."]}
            )
        row.instance_id = instance_id


def readable(attachment_id: int, *, user: User, storage: Path) -> tuple[Attachment, Path]:
    """Return the row and file path if the user may read it (their upload, or their request's).

    Raises:
        NotFound: unknown, or not visible to this user.
    """
    row = db.session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(f"attachment {attachment_id}")
    if row.uploaded_by_id != user.id:
        if row.instance_id is None:
            raise NotFound(f"attachment {attachment_id}")
        access.visible_instance(user, row.instance_id)
    return row, Path(storage) / row.sha256[:2] / row.sha256
