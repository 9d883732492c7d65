"""Camunda `formData` fields, as parsed from the BPMN, mapped onto the same form model."""

from forms.model import MAX_FIELDS, Form

_CAMUNDA_TYPES = {
    "string": ({"type": "string", "maxLength": 2000}, "text"),
    "long": ({"type": "integer"}, "integer"),
    "boolean": ({"type": "boolean"}, "boolean"),
    "date": ({"type": "string", "format": "date"}, "date"),
}


def from_camunda(key: str, fields: list[dict]) -> Form:
    """Map Camunda `formData` fields onto the form model."""
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
