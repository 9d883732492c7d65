"""Posted HTML form strings back to the schema's types, so validation sees real values.

Values that do not convert stay as typed (so the page can show them again) and get a coded
message. Files are handed to a callback of the front end's, which stores them and returns the
value to keep (an attachment reference) or a FieldError.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from forms.fields import INDEX, Field
from forms.messages import FieldError

# (field path, upload or None, token or None) -> stored value, FieldError, or None (no file)
FileHandler = Callable[[str, object, str | None], object]


@dataclass
class _Reader:
    form: object  # MultiDict of posted strings
    files: object  # MultiDict of uploads
    on_file: FileHandler | None
    zone: tzinfo | None
    skip: set[str]
    errors: dict[str, list[FieldError]] = field(default_factory=dict)

    def indices(self, prefix: str) -> list[int]:
        found = set()
        for key in [*self.form.keys(), *self.files.keys()]:
            if key.startswith(prefix + "."):
                head = key[len(prefix) + 1 :].split(".", 1)[0]
                if INDEX.match(head) and f"{prefix}.{head}" not in self.skip:
                    found.add(int(head))
        return sorted(found)


def parse(
    fields: list[Field],
    form,
    files,
    *,
    on_file: FileHandler | None = None,
    zone: tzinfo | None = None,
    action: str = "",
) -> tuple[dict, dict[str, list[FieldError]]]:
    """Convert posted strings to the schema's types; return (data, conversion errors).

    `action` is the no-JavaScript row editing: "add:<array path>" or "remove:<row path>".
    """
    verb, _sep, path = action.partition(":")
    reader = _Reader(form, files, on_file, zone, {path} if verb == "remove" else set())
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
        return True, reader.form.get(src) in ("true", "on", "1", "yes")
    if f.widget == "file":
        return _read_file(src, dst, reader)
    raw = reader.form.get(src)
    if raw is None:
        return False, None
    value = raw if f.widget == "textarea" else raw.strip()
    if value.strip() == "":
        return False, None
    converted, problem = _convert(f, value, reader.zone)
    if problem:
        reader.errors[dst] = [problem]
    return True, converted


def _read_file(src: str, dst: str, reader: _Reader) -> tuple[bool, object]:
    if reader.on_file is None:
        return False, None
    upload = reader.files.get(src)
    if upload is not None and not getattr(upload, "filename", None):
        upload = None
    value = reader.on_file(dst, upload, reader.form.get(src + ".token"))
    if isinstance(value, FieldError):
        reader.errors[dst] = [value]
        return False, None
    return value is not None, value


def _convert(f: Field, value: str, zone) -> tuple[object, FieldError | None]:
    if f.widget in ("select", "radio"):
        return _choice(f, value), None
    if f.widget == "integer":
        try:
            return int(value.replace(",", "")), None
        except ValueError:
            return value, FieldError("integer")
    if f.widget == "number":
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return value, FieldError("number")
        return (int(number) if number.is_integer() and "." not in value else number), None
    if f.widget == "datetime":
        try:
            local = datetime.fromisoformat(value)
        except ValueError:
            return value, FieldError("datetime")
        if local.tzinfo is None and zone is not None:
            local = local.replace(tzinfo=zone)
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
