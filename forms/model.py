"""Form definitions (JSON Schema draft 2020-12 + UI hints) and their server-side validation.

A form's data reaches task data only after `Form.load()` accepted it: only declared fields pass,
and each problem comes back as a coded message beside its field. Beyond JSON Schema, a field may
declare `"x-not-before": "today"` (or `"x-not-after"`) on a date, and `"x-lookup": "<name>"`: a
check against other systems that the unit of work runs at submit (e.g. a username that must be
free in the directory).
"""

import contextvars
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from email_validator import EmailNotValidError, validate_email
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError

from engine.errors import InvalidInput
from forms.messages import FieldError, as_problem

MAX_FIELDS = 200
_TODAY: contextvars.ContextVar[date | None] = contextvars.ContextVar("form_today", default=None)
_RELATIVE_DAY = re.compile(r"^today(?:\s*([+-])\s*(\d{1,4}))?$")
_FORMATS = FormatChecker()


@_FORMATS.checks("email", raises=EmailNotValidError)
def _is_email(value) -> bool:
    """A real address: a local part, an @ and a domain with a dot (no DNS lookups)."""
    if not isinstance(value, str):
        return True
    validate_email(value, check_deliverability=False)
    return True


def resolve_day(value: str, today: date) -> date | None:
    """ "today", "today+3", "today-1" or an ISO date, as a date; None when it is neither."""
    match = _RELATIVE_DAY.match(str(value).strip())
    if match:
        sign, days = match.groups()
        delta = timedelta(days=int(days or 0))
        return today - delta if sign == "-" else today + delta
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _day_bound(validator, bound, instance, schema, *, after: bool):
    today = _TODAY.get()
    if today is None or not isinstance(instance, str):
        return
    limit = resolve_day(bound, today)
    try:
        given = date.fromisoformat(instance[:10])
    except ValueError:
        return  # the format check reports it
    if limit is not None and ((given > limit) if after else (given < limit)):
        word = "after" if after else "before"
        yield ValidationError(f"{instance} is {word} {limit}", validator_value=limit.isoformat())


_Validator = validators.extend(
    Draft202012Validator,
    {
        "x-not-before": lambda v, b, i, s: _day_bound(v, b, i, s, after=False),
        "x-not-after": lambda v, b, i, s: _day_bound(v, b, i, s, after=True),
    },
)


@dataclass
class Form:
    """One form: its key, bilingual title, JSON Schema and UI hints (labels, widgets, order)."""

    key: str
    schema: dict
    ui: dict = field(default_factory=dict)
    title: dict = field(default_factory=dict)
    description: dict = field(default_factory=dict)

    def __post_init__(self):
        self._validator = _Validator(self.schema, format_checker=_FORMATS)

    def check(self, data, *, today: date | None = None) -> tuple[dict, dict[str, list[FieldError]]]:
        """Return (the data restricted to declared fields, field errors); errors empty = valid."""
        if not isinstance(data, dict):
            return {}, {"_form": [FieldError("invalid")]}
        declared = self.schema.get("properties", {})
        if self.schema.get("additionalProperties", True) is not False:
            data = {k: v for k, v in data.items() if k in declared}
        errors: dict[str, list[FieldError]] = {}
        token = _TODAY.set(today)
        try:
            for error in self._validator.iter_errors(data):
                name, problem = _field_error(error)
                if problem not in errors.setdefault(name, []):
                    errors[name].append(problem)
        finally:
            _TODAY.reset(token)
        return {k: v for k, v in data.items() if k in declared}, errors

    def load(self, data, *, today: date | None = None) -> dict:
        """Return the validated data restricted to declared fields.

        Raises:
            InvalidInput: with extra["errors"] = {field: [English text]} and extra["messages"].
        """
        clean, errors = self.check(data, today=today)
        if errors:
            raise InvalidInput("The form has errors.", **as_problem(errors))
        return clean

    def lookups(self) -> dict[str, str]:
        """Top-level field -> the name of the lookup it declares (`x-lookup`)."""
        props = self.schema.get("properties", {})
        return {name: prop["x-lookup"] for name, prop in props.items() if prop.get("x-lookup")}

    def field_schema(self, name: str) -> dict | None:
        return self.schema.get("properties", {}).get(name)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "schema": self.schema,
            "ui": self.ui,
        }


def _field_error(error) -> tuple[str, FieldError]:
    """The field an error belongs to and its coded message."""
    path = _join(error.absolute_path)
    keyword, value = error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return _join(error.absolute_path, missing) if missing else "_form", FieldError("required")
    if keyword == "additionalProperties":
        extras = [p for p in error.instance if p not in schema.get("properties", {})]
        return (extras[0] if extras else "_form"), FieldError("not_in_form")
    name = path or "_form"
    is_list = isinstance(error.instance, list)
    if keyword == "format":
        code = f"format.{value}"
        return name, FieldError(code if code in _KNOWN_FORMATS else "format")
    if keyword == "type":
        kind = value if isinstance(value, str) else "invalid"
        known = ("integer", "number", "boolean", "string", "object", "array")
        return name, FieldError(f"type.{kind}" if kind in known else "type")
    if keyword == "minLength":
        return name, FieldError("required") if value <= 1 else FieldError(
            "min_length", {"num": value}
        )
    if keyword in ("maxLength", "maxItems", "minItems"):
        code = {"maxLength": "max_length", "maxItems": "max_items", "minItems": "min_items"}[
            keyword
        ]
        return name, FieldError(code, {"num": value})
    if keyword in ("x-not-before", "x-not-after"):
        code = "not_before" if keyword == "x-not-before" else "not_after"
        return name, FieldError(code, {"day": value})
    simple = {
        "enum": "choice",
        "const": "invalid",
        "pattern": "pattern",
        "uniqueItems": "unique",
        "minimum": "minimum",
        "maximum": "maximum",
        "exclusiveMinimum": "exclusive_minimum",
        "exclusiveMaximum": "exclusive_maximum",
        "multipleOf": "multiple_of",
    }
    if keyword == "minProperties" or (keyword == "minContains" and is_list):
        return name, FieldError("required")
    return name, FieldError(simple.get(keyword, "invalid"), {"num": value})


_KNOWN_FORMATS = {"format.email", "format.date", "format.date-time", "format.uri"}


def _join(path, *extra) -> str:
    return ".".join(str(p) for p in [*path, *extra])


def from_definition(definition: dict, source: str = "form") -> Form:
    """Build a Form from its JSON definition, checking the schema itself.

    Raises:
        ValueError: the definition is not a valid form (the message names `source`).
    """
    if not isinstance(definition, dict) or not isinstance(definition.get("key"), str):
        raise ValueError(f"{source}: a form definition is an object with a 'key'")
    try:
        Draft202012Validator.check_schema(definition["schema"])
    except (KeyError, SchemaError) as exc:
        raise ValueError(f"{source}: invalid form schema: {exc}") from exc
    if len(definition["schema"].get("properties", {})) > MAX_FIELDS:
        raise ValueError(f"{source}: more than {MAX_FIELDS} fields")
    for name, kind in (("ui", dict), ("title", dict), ("description", dict)):
        if not isinstance(definition.get(name, {}), kind):
            raise ValueError(f"{source}: '{name}' must be an object")
    return Form(
        key=definition["key"],
        schema=definition["schema"],
        ui=definition.get("ui", {}),
        title=definition.get("title", {}),
        description=definition.get("description", {}),
    )
