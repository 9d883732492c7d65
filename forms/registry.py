"""Form definitions (JSON Schema draft 2020-12 + UI hints) and server-side validation.

A form's data reaches task data only after `Form.load()` accepted it: only declared fields pass,
and each problem comes back as a message beside its field.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from engine.errors import InvalidInput, InvalidProcess

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
_FORMATS = FormatChecker()
MAX_FIELDS = 200


@dataclass
class Form:
    """One form: its key, bilingual title, JSON Schema and UI hints (labels, widgets, order)."""

    key: str
    schema: dict
    ui: dict = field(default_factory=dict)
    title: dict = field(default_factory=dict)
    description: dict = field(default_factory=dict)

    def __post_init__(self):
        self._validator = Draft202012Validator(self.schema, format_checker=_FORMATS)

    def load(self, data) -> dict:
        """Return the validated data restricted to declared fields.

        Raises:
            InvalidInput: with extra["errors"] = {field: [messages]}.
        """
        if not isinstance(data, dict):
            raise InvalidInput(
                "Form data must be a JSON object.", errors={"_form": ["Not an object."]}
            )
        declared = self.schema.get("properties", {})
        errors: dict[str, list[str]] = {}
        if self.schema.get("additionalProperties", True) is not False:
            data = {k: v for k, v in data.items() if k in declared}
        for error in self._validator.iter_errors(data):
            name, message = _field_message(error)
            errors.setdefault(name, []).append(message)
        if errors:
            raise InvalidInput("The form has errors.", errors=errors)
        return {k: v for k, v in data.items() if k in declared}

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "schema": self.schema,
            "ui": self.ui,
        }


def _field_message(error) -> tuple[str, str]:
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "_form"
        return _join(error.absolute_path, missing), "This field is required."
    if error.validator == "additionalProperties":
        extras = [p for p in error.instance if p not in error.schema.get("properties", {})]
        return (extras[0] if extras else "_form"), "This field is not part of the form."
    name = _join(error.absolute_path) or "_form"
    messages = {
        "format": f"Not a valid {error.validator_value}.",
        "pattern": "Does not match the expected format.",
        "enum": "Not one of the allowed choices.",
        "type": f"Must be of type {error.validator_value}.",
        "minLength": "This field is required." if error.validator_value == 1 else None,
    }
    return name, messages.get(error.validator) or error.message


def _join(path, *extra) -> str:
    return ".".join(str(p) for p in [*path, *extra])


class FormRegistry:
    """All form definitions by key, loaded once per OS process."""

    def __init__(self, forms: dict[str, Form]):
        self.forms = forms

    @classmethod
    def load(cls, directory: Path = DEFINITIONS_DIR) -> "FormRegistry":
        forms = {}
        for path in sorted(Path(directory).glob("*.json")):
            definition = json.loads(path.read_text(encoding="utf-8"))
            form = from_definition(definition, source=path.name)
            if form.key != path.stem:
                raise ValueError(f"{path.name}: key '{form.key}' does not match the file name")
            forms[form.key] = form
        return cls(forms)

    def get(self, key: str) -> Form | None:
        return self.forms.get(key)

    def check_process(self, form_keys: set[str]) -> None:
        """Raise InvalidProcess when a process refers to forms that do not exist."""
        missing = sorted(
            k for k in form_keys if not k.startswith("embedded:") and k not in self.forms
        )
        if missing:
            raise InvalidProcess(
                f"unknown form(s): {', '.join(missing)}",
                problems=[
                    {"file": None, "line": None, "id": k, "message": "unknown form"}
                    for k in missing
                ],
            )


def from_definition(definition: dict, source: str = "form") -> Form:
    """Build a Form from its JSON definition, checking the schema itself."""
    try:
        Draft202012Validator.check_schema(definition["schema"])
    except (KeyError, SchemaError) as exc:
        raise ValueError(f"{source}: invalid form schema: {exc}") from exc
    return Form(
        key=definition["key"],
        schema=definition["schema"],
        ui=definition.get("ui", {}),
        title=definition.get("title", {}),
        description=definition.get("description", {}),
    )


_CAMUNDA_TYPES = {
    "string": ({"type": "string", "maxLength": 2000}, "text"),
    "long": ({"type": "integer"}, "integer"),
    "boolean": ({"type": "boolean"}, "boolean"),
    "date": ({"type": "string", "format": "date"}, "date"),
}


def from_camunda(key: str, fields: list[dict]) -> Form:
    """Map Camunda `formData` fields onto the same form model."""
    properties, required, ui_fields = {}, [], {}
    for item in fields[:MAX_FIELDS]:
        name = item["id"]
        if item["type"] == "enum":
            prop, widget = {"enum": [option[0] for option in item["options"]]}, "select"
        else:
            prop, widget = _CAMUNDA_TYPES.get(item["type"], _CAMUNDA_TYPES["string"])
            prop = dict(prop)
        constraints = item.get("constraints", {})
        if "required" in constraints:
            required.append(name)
        for limit, keyword in (
            ("minlength", "minLength"),
            ("maxlength", "maxLength"),
            ("min", "minimum"),
            ("max", "maximum"),
        ):
            if constraints.get(limit) not in (None, ""):
                prop[keyword] = int(constraints[limit])
        label = {"en": item["label"], "zh": item["label"]}
        ui_fields[name] = {"label": label, "widget": widget}
        if item["type"] == "enum":
            ui_fields[name]["options"] = {o[0]: {"en": o[1], "zh": o[1]} for o in item["options"]}
        properties[name] = prop
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return Form(key=key, schema=schema, ui={"order": list(properties), "fields": ui_fields})
