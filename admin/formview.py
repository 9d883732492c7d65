"""Posted web forms to request data: fields in the reader's language, files, and messages.

The form itself is read by forms/ (fields_for, posted.parse); this module adds what only the web
has: uploads sent with the form (stored as the person's own files through a unit of work and
carried across a re-shown form by a signed token), the reader's time zone, and messages in the
reader's language. Validation happens in the unit of work that takes the data.
"""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_timezone
from itsdangerous import BadSignature, URLSafeTimedSerializer

from engine import clock
from engine.errors import InvalidInput
from engine.instances import service
from forms import fields as form_fields
from forms import posted
from forms.fields import Field
from forms.messages import FieldError, localized

TOKEN_MAX_AGE = 86400


def fields_for(form, lang: str) -> list[Field]:
    return form_fields.fields_for(form, lang, today=clock.today())


@dataclass
class Uploads:
    """Stores files sent with a form as the person's own, and restores them from a token.

    A form re-shown with errors keeps its files: the page carries a signed token naming the
    stored upload, and the next submit sends its reference again.
    """

    user: object
    tokens: dict[str, str] = field(default_factory=dict)

    def _signer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.secret_key, salt="flowdesk-upload")

    def __call__(self, name: str, upload, token: str | None):
        """forms.posted's file handler: the value to keep, a FieldError, or None."""
        if upload is not None:
            config = current_app.config
            try:
                row = service.upload_attachment(
                    upload.stream,
                    upload.filename,
                    upload.mimetype,
                    user=self.user,
                    storage=Path(config["ATTACHMENTS_DIR"]),
                    max_bytes=int(config["ATTACHMENT_MAX_BYTES"]),
                    allowed_types=set(config["ATTACHMENT_TYPES"]),
                )
            except InvalidInput as exc:
                return _first_problem(exc)
            value = {
                "attachment_id": row.id,
                "filename": row.filename,
                "size": row.size,
                "content_type": row.content_type,
            }
        elif token:
            try:
                saved = self._signer().loads(token, max_age=TOKEN_MAX_AGE)
            except BadSignature:
                return None
            if saved.get("u") != self.user.id:
                return None
            value = saved["v"]
        else:
            return None
        self.tokens[name] = self._signer().dumps({"u": self.user.id, "v": value})
        return value


def _first_problem(exc: InvalidInput) -> FieldError:
    found = (exc.extra.get("messages") or {}).get("file") or []
    if not found:
        return FieldError("invalid")
    return FieldError(found[0]["code"], texts=(found[0]["en"], found[0]["zh"]))


@dataclass
class Submission:
    """A posted form: its values as typed data, what did not convert, upload tokens, row action."""

    values: dict
    problems: dict[str, list[FieldError]]
    tokens: dict
    action: str


def read(fields: list[Field], user, form, files) -> Submission:
    """Read a posted form (storing its files) into data for a unit of work."""
    uploads = Uploads(user)
    action = form.get("_action", "")
    values, problems = posted.parse(
        fields, form, files, on_file=uploads, zone=_zone(), action=action
    )
    return Submission(values, problems, uploads.tokens, action)


def messages(exc: InvalidInput, lang: str) -> dict[str, list[str]]:
    """An InvalidInput's field messages in the reader's language."""
    return localized(exc.extra, lang)


def texts(problems: dict[str, list[FieldError]], lang: str) -> dict[str, list[str]]:
    return {name: [p.text(lang) for p in items] for name, items in problems.items()}


def _zone() -> ZoneInfo:
    """The reader's time zone (Flask-Babel hands out pytz zones; those need localize())."""
    return ZoneInfo(str(get_timezone()))


def local_datetime(value) -> str:
    """An ISO date-time as the value of an <input type=datetime-local> in the reader's zone."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(_zone())
    return moment.strftime("%Y-%m-%dT%H:%M")


summary = form_fields.summary
