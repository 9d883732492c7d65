"""Any form definition as HTML fields, and back: posted strings -> schema types -> Form.load.

`fields_for(form)` turns a JSON Schema + UI hints into a tree of `Field`s that one set of Jinja2
macros renders (forms/_fields.html). `parse()` reads the posted strings back into the schema's
types, so `Form.load` sees real integers, booleans and lists, and whatever the person typed is
kept for the re-rendered page. Field names are dotted paths (`items.0.qty`), the same paths that
`Form.load` uses as error keys, so every message lands beside its field.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer

from engine import attachments
from engine.errors import InvalidInput
from engine.models import begin_write
from forms.registry import Form, from_camunda

_INDEX = re.compile(r"^\d+$")


@dataclass
class Field:
    """One field of a form, in the reader's language, ready for the template."""

    key: str
    schema: dict
    widget: str
    label: str
    help: str = ""
    placeholder: str = ""
    required: bool = False
    options: list[tuple[str, object, str]] = field(default_factory=list)  # (posted, value, label)
    children: list["Field"] = field(default_factory=list)  # object widget
    item: "Field | None" = None  # array widget: one row
    attrs: dict = field(default_factory=dict)  # HTML attributes (maxlength, min, max, step)

    def option_label(self, value) -> str:
        for _posted, option, label in self.options:
            if option == value:
                return label
        return "" if value is None else str(value)


def resolve(version, form_key: str | None) -> Form | None:
    """A step's form: a registry form, or a Camunda formData form embedded in the BPMN."""
    if not form_key:
        return None
    if form_key.startswith("embedded:"):
        fields = version.meta.get("embedded_forms", {}).get(form_key.split(":", 1)[1])
        return from_camunda(form_key, fields) if fields is not None else None
    return current_app.extensions["flowdesk"].forms.get(form_key)


def fields_for(form: Form, lang: str) -> list[Field]:
    return _fields(form.schema, form.ui, lang)


def _fields(schema: dict, ui: dict, lang: str) -> list[Field]:
    props = schema.get("properties", {})
    order = [k for k in (ui.get("order") or []) if k in props]
    order += [k for k in props if k not in order]
    required = set(schema.get("required", []))
    hints = ui.get("fields", {})
    return [
        _field(key, props[key], hints.get(key, {}), key in required, lang)
        for key in order
        if not hints.get(key, {}).get("hidden")
    ]


def _text(value, lang: str) -> str:
    if isinstance(value, dict):
        return value.get(lang) or value.get("en") or value.get("zh") or ""
    return value or ""


def _field(key: str, schema: dict, ui: dict, required: bool, lang: str) -> Field:
    widget = _widget(schema, ui)
    label = _text(ui.get("label"), lang) or schema.get("title") or key.replace("_", " ").title()
    result = Field(
        key=key,
        schema=schema,
        widget=widget,
        label=label,
        help=_text(ui.get("help"), lang) or schema.get("description", ""),
        placeholder=_text(ui.get("placeholder"), lang),
        required=required,
        attrs=_attrs(schema, widget),
    )
    choices = schema.get("enum") or schema.get("items", {}).get("enum") or []
    labels = ui.get("options", {})
    result.options = [(_posted(v), v, _text(labels.get(str(v)), lang) or str(v)) for v in choices]
    if widget == "object":
        result.children = _fields(schema, ui, lang)
    elif widget == "array":
        item_ui = ui.get("item") or {"fields": ui.get("fields", {}), "order": ui.get("order")}
        item_ui = {**item_ui, "label": item_ui.get("label") or ui.get("label")}
        result.item = _field("", schema.get("items", {}), item_ui, True, lang)
    return result


def _widget(schema: dict, ui: dict) -> str:
    asked = ui.get("widget")
    kind = schema.get("type")
    if asked == "file":
        return "file"
    if kind == "object":
        return "object"
    if kind == "array":
        if schema.get("items", {}).get("enum"):
            return asked if asked in ("multiselect", "checkbox") else "checkbox"
        return "array"
    if kind == "boolean":
        return "boolean"
    if "enum" in schema:
        return asked if asked in ("select", "radio") else "select"
    if kind in ("integer", "number"):
        return kind
    fmt = schema.get("format")
    if fmt in ("date", "email"):
        return fmt
    if fmt == "date-time":
        return "datetime"
    if fmt in ("uri", "url"):
        return "url"
    return asked if asked in ("textarea", "tel", "email", "text") else "text"


def _attrs(schema: dict, widget: str) -> dict:
    attrs = {}
    if widget in ("text", "textarea", "email", "url", "tel") and schema.get("maxLength"):
        attrs["maxlength"] = schema["maxLength"]
    if widget in ("integer", "number"):
        for keyword, attr in (("minimum", "min"), ("maximum", "max")):
            if keyword in schema:
                attrs[attr] = schema[keyword]
        attrs["step"] = 1 if widget == "integer" else "any"
        attrs["inputmode"] = "numeric" if widget == "integer" else "decimal"
    return attrs


def _posted(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def approval(fields: list[Field]) -> tuple[Field, Field] | None:
    """A `*_approved` boolean plus a comment field: the step gets Approve / Reject buttons."""
    for flag in fields:
        if flag.widget == "boolean" and flag.key.endswith("_approved"):
            wanted = flag.key.removesuffix("_approved") + "_comment"
            comment = next((f for f in fields if f.key == wanted), None) or next(
                (f for f in fields if f.widget == "textarea"), None
            )
            if comment is not None:
                return flag, comment
    return None


# --- posted strings back to data -------------------------------------------------------------


@dataclass
class Uploads:
    """Saves new uploads through engine.attachments and restores earlier ones from a token.

    A form re-shown with errors keeps its files: the page carries a signed token naming the
    stored content (files are stored by hash), and the next submit records it again.
    """

    user: object
    created: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def _signer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.secret_key, salt="flowdesk-upload")

    def _limits(self) -> dict:
        config = current_app.config
        return {
            "user": self.user,
            "storage": Path(config["ATTACHMENTS_DIR"]),
            "max_bytes": int(config["ATTACHMENT_MAX_BYTES"]),
            "allowed_types": set(config["ATTACHMENT_TYPES"]),
        }

    def save(self, name: str, upload) -> dict:
        self._begin()
        row = attachments.save(upload.stream, upload.filename, upload.mimetype, **self._limits())
        return self._remember(name, row)

    def _begin(self) -> None:
        # attachments.save() writes in the caller's transaction, and the unit of work that
        # follows (start_instance, complete_task) commits it. Take the write lock before the
        # first file, as every unit of work does.
        if not self.created:
            begin_write()

    def restore(self, name: str, token: str) -> dict | None:
        try:
            saved = self._signer().loads(token, max_age=86400)
        except BadSignature:
            return None
        if saved.get("u") != self.user.id:
            return None
        path = Path(current_app.config["ATTACHMENTS_DIR"]) / saved["sha"][:2] / saved["sha"]
        if not path.is_file():
            return None
        self._begin()
        with path.open("rb") as stream:
            row = attachments.save(stream, saved["name"], saved["type"], **self._limits())
        return self._remember(name, row)

    def _remember(self, name: str, row) -> dict:
        self.created.append(row.id)
        self.tokens[name] = self._signer().dumps(
            {"u": self.user.id, "sha": row.sha256, "name": row.filename, "type": row.content_type}
        )
        return {"attachment_id": row.id, "filename": row.filename, "size": row.size,
                "content_type": row.content_type}  # fmt: skip


@dataclass
class _Reader:
    form: object  # MultiDict of posted strings
    files: object  # MultiDict of uploads
    uploads: Uploads | None
    skip: set[str]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def indices(self, prefix: str) -> list[int]:
        found = set()
        for key in [*self.form.keys(), *self.files.keys()]:
            if key.startswith(prefix + "."):
                head = key[len(prefix) + 1 :].split(".", 1)[0]
                if _INDEX.match(head) and f"{prefix}.{head}" not in self.skip:
                    found.add(int(head))
        return sorted(found)


def parse(fields: list[Field], form, files, *, uploads: Uploads | None = None,
          action: str = "") -> tuple[dict, dict[str, list[str]]]:  # fmt: skip
    """Convert posted strings to the schema's types; return (data, conversion errors).

    Values that do not convert stay as typed (so the page shows them again) and get a message.
    `action` is the no-JavaScript row editing: "add:<array path>" or "remove:<row path>".
    """
    verb, _sep, path = action.partition(":")
    reader = _Reader(form, files, uploads, {path} if verb == "remove" else set())
    data = _read_level(fields, "", "", reader)
    if verb == "add" and path:
        _append_row(data, path.split("."))
    return data, reader.errors


def _read_level(fields: list[Field], src: str, dst: str, reader: _Reader) -> dict:
    out = {}
    for f in fields:
        present, value = _read(f, src + f.key, dst + f.key, reader)
        if present:
            out[f.key] = value
    return out


def _read(f: Field, src: str, dst: str, reader: _Reader) -> tuple[bool, object]:
    if f.widget == "object":
        value = _read_level(f.children, src + ".", dst + ".", reader)
        return bool(value) or f.required, value
    if f.widget == "array":
        rows = []
        for index in reader.indices(src):
            present, value = _read(f.item, f"{src}.{index}", f"{dst}.{len(rows)}", reader)
            if present and not _blank(value):
                rows.append(value)
        return bool(rows), rows
    if f.widget in ("checkbox", "multiselect"):
        chosen = [_choice(f, v) for v in reader.form.getlist(src) if v != ""]
        return bool(chosen), chosen
    if f.widget == "boolean":
        raw = reader.form.get(src)
        return True, raw in ("true", "on", "1", "yes")
    if f.widget == "file":
        return _read_file(f, src, dst, reader)
    raw = reader.form.get(src)
    if raw is None:
        return False, None
    value = raw if f.widget == "textarea" else raw.strip()
    if value.strip() == "":
        return False, None
    converted, message = _convert(f, value)
    if message:
        reader.errors[dst] = [str(message)]
    return True, converted


def _read_file(f: Field, src: str, dst: str, reader: _Reader) -> tuple[bool, object]:
    if reader.uploads is None:
        return False, None
    upload = reader.files.get(src)
    try:
        if upload is not None and upload.filename:
            return True, reader.uploads.save(dst, upload)
        token = reader.form.get(src + ".token")
        if token:
            value = reader.uploads.restore(dst, token)
            return value is not None, value
    except InvalidInput as exc:
        message = next(iter(exc.extra.get("errors", {}).values()), [exc.detail])[0]
        reader.errors[dst] = [str(_file_message(message))]
    return False, None


def _file_message(message: str):
    if message.startswith("At most"):
        limit = int(current_app.config["ATTACHMENT_MAX_BYTES"]) // (1024 * 1024)
        return _l("The file is too large (at most %(num)d MB).", num=limit)
    if message.startswith("Type"):
        return _l("This type of file is not accepted.")
    if "empty" in message:
        return _l("The file is empty.")
    return _l("The file could not be stored.")


def _convert(f: Field, value: str):
    if f.widget in ("select", "radio"):
        return _choice(f, value), None
    if f.widget == "integer":
        try:
            return int(value.replace(",", "")), None
        except ValueError:
            return value, _l("Enter a whole number.")
    if f.widget == "number":
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return value, _l("Enter a number.")
        return (int(number) if number.is_integer() and "." not in value else number), None
    if f.widget == "datetime":
        try:
            local = datetime.fromisoformat(value)
        except ValueError:
            return value, _l("Enter a date and time.")
        if local.tzinfo is None:
            local = local.replace(tzinfo=_zone())
        return local.isoformat(timespec="seconds"), None
    return value, None


def _choice(f: Field, posted: str):
    for text, value, _label in f.options:
        if text == posted:
            return value
    return posted


def _blank(value) -> bool:
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return value in (None, "", False)


def _append_row(data: dict, path: list[str]) -> None:
    node = data
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if not isinstance(node, dict | list):
            return
    if isinstance(node, dict):
        rows = node.setdefault(path[-1], [])
        if isinstance(rows, list):
            rows.append(None)


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


# --- messages --------------------------------------------------------------------------------

KNOWN = {
    "This field is required.": _l("This field is required."),
    "Not one of the allowed choices.": _l("Choose one of the options."),
    "Does not match the expected format.": _l("This does not match the expected format."),
    "This field is not part of the form.": _l("This field is not part of the form."),
    "Reserved name.": _l("This field name is reserved."),
}
FORMATS = {
    "email": _l("Enter a valid email address."),
    "date": _l("Enter a valid date (YYYY-MM-DD)."),
    "date-time": _l("Enter a date and time."),
    "uri": _l("Enter a valid web address."),
}
TYPES = {
    "integer": _l("Enter a whole number."),
    "number": _l("Enter a number."),
    "boolean": _l("Choose yes or no."),
}


def localize(errors: dict[str, list[str]], schema: dict) -> dict[str, list[str]]:
    """Turn Form.load's messages into the reader's language, one clear sentence each."""
    out = {}
    for name, messages in errors.items():
        field_schema = schema_at(schema, name)
        out[name] = list(dict.fromkeys(str(_message(m, field_schema)) for m in messages))
    return out


def _message(message: str, schema: dict):
    if message in KNOWN:
        return KNOWN[message]
    if message.startswith("Not a valid "):
        return FORMATS.get(message.removeprefix("Not a valid ").rstrip("."), _l("Not valid."))
    if message.startswith("Must be of type "):
        return TYPES.get(message.removeprefix("Must be of type ").rstrip("."), _l("Not valid."))
    is_list = schema.get("type") == "array"
    if message.endswith("is too long"):
        if is_list:
            return _l("Choose at most %(num)d.", num=schema.get("maxItems", 0))
        return _l("At most %(num)d characters.", num=schema.get("maxLength", 0))
    if message.endswith("is too short") or message.endswith("should be non-empty"):
        if is_list:
            return _l("Add at least %(num)d.", num=schema.get("minItems", 1))
        if schema.get("minLength", 1) <= 1:
            return KNOWN["This field is required."]
        return _l("At least %(num)d characters.", num=schema["minLength"])
    for marker, keyword, text in (
        ("less than the minimum", "minimum", _l("Must be at least %(num)s.")),
        ("greater than the maximum", "maximum", _l("Must be at most %(num)s.")),
        ("less than or equal to the minimum", "exclusiveMinimum", _l("Must be more than %(num)s.")),
        ("greater than or equal to the maximum", "exclusiveMaximum",
         _l("Must be less than %(num)s.")),
        ("is not a multiple of", "multipleOf", _l("Must be a multiple of %(num)s.")),
    ):  # fmt: skip
        if marker in message:
            return str(text) % {"num": schema.get(keyword, "")}
    if "non-unique" in message:
        return _l("Each entry must be different.")
    return _l("This value is not valid.")


def schema_at(schema: dict, path: str) -> dict:
    """The sub-schema at a dotted error path ("items.0.qty"), or {}."""
    node = schema
    for part in path.split("."):
        if _INDEX.match(part) and "items" in node:
            node = node["items"]
        else:
            node = node.get("properties", {}).get(part)
            if node is None:
                return {}
    return node


def summary(fields: list[Field], errors: dict[str, list[str]]) -> list[dict]:
    """The error list at the top of a form: label, message and the anchor of each field."""
    return [
        {"anchor": "f-" + name.replace(".", "-"), "label": label_at(fields, name),
         "message": " ".join(messages)}
        for name, messages in errors.items()
    ]  # fmt: skip


def label_at(fields: list[Field], name: str) -> str:
    """The label of the field at a dotted path, with row numbers ("Items · 2 · Quantity")."""
    parts, labels, level, i = name.split("."), [], fields, 0
    while i < len(parts):
        found = next((f for f in level if f.key == parts[i]), None)
        if found is None:
            break
        labels.append(found.label)
        level = found.children
        if found.widget == "array" and i + 1 < len(parts) and _INDEX.match(parts[i + 1]):
            labels.append(str(int(parts[i + 1]) + 1))
            level = found.item.children
            i += 1
        i += 1
    return " · ".join(labels) or name


@dataclass
class Submission:
    """A posted form: converted values, messages, upload tokens, and what Form.load accepted."""

    values: dict
    errors: dict
    tokens: dict
    uploads: "Uploads"
    action: str
    clean: dict


def submit(form, fields, user, posted, files) -> Submission:
    """Parse a posted form (keeping uploads) and, unless it was a row action, validate it."""
    uploads = Uploads(user)
    action = posted.get("_action", "")
    values, errors = parse(fields, posted, files, uploads=uploads, action=action)
    clean = {}
    if not action:
        clean, errors = validate(form, values, errors)
    return Submission(values, errors, uploads.tokens, uploads, action, clean)


def validate(form, values: dict, conversion_errors: dict) -> tuple[dict, dict]:
    """Form.load on converted data; conversion messages win over the schema's for a field."""
    if form is None:
        return {}, conversion_errors
    try:
        clean = form.load(values)
        errors = {}
    except InvalidInput as exc:
        clean, errors = {}, localize(exc.extra.get("errors", {}), form.schema)
    errors.update(conversion_errors)
    return clean, errors
