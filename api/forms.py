"""Resolve the form of a start event or a step: a registry form or an embedded Camunda form."""

from flask import current_app

from engine.errors import InvalidInput
from forms.registry import Form, from_camunda


def resolve(version, form_key: str | None) -> Form | None:
    if not form_key:
        return None
    if form_key.startswith("embedded:"):
        fields = version.meta.get("embedded_forms", {}).get(form_key.split(":", 1)[1])
        return from_camunda(form_key, fields) if fields is not None else None
    return current_app.extensions["flowdesk"].forms.get(form_key)


def form_definition(version, form_key: str | None) -> dict | None:
    form = resolve(version, form_key)
    return form.to_dict() if form else None


def load_form_data(version, form_key: str | None, data: dict) -> dict:
    """Validate submitted data against the form; a step without a form takes no data.

    Raises:
        InvalidInput: field-level errors.
    """
    form = resolve(version, form_key)
    if form is None:
        if data:
            raise InvalidInput(
                "This step has no form and takes no data.",
                errors={k: ["This field is not part of the form."] for k in data},
            )
        return {}
    return form.load(data)
