"""Every check a bundle passes before it is published, in one list (API, CLI, designer, sync)."""

from engine.bpmn.specs import describe_steps
from engine.catalog import texts
from engine.catalog.bundles import Bundle, form_file_name
from engine.lookups import LOOKUPS


def problems(bundle: Bundle, *, operations: frozenset[str] | set[str]) -> list[dict]:
    """Return what stops `bundle` from being published: [{file, line, id, message}]."""
    found = []
    process = bundle.process
    for key in sorted(process.form_keys()):
        if not key.startswith("embedded:") and key not in bundle.forms:
            found.append(_problem(form_file_name(key), key, f"unknown form '{key}'"))
    for name in sorted(process.operation_names() - set(operations)):
        found.append(_problem(None, name, f"unknown operation '{name}'"))
    for key, definition in sorted(bundle.forms.items()):
        for field, prop in definition["schema"].get("properties", {}).items():
            lookup = prop.get("x-lookup") if isinstance(prop, dict) else None
            if lookup is not None and lookup not in LOOKUPS:
                message = f"field '{field}' names an unknown lookup '{lookup}'"
                found.append(_problem(form_file_name(key), key, message))
    for name in ("title_template", "title_template_zh"):
        message = texts.check(process.meta[name]) if process.meta.get(name) else None
        if message:
            found.append(_problem(None, bundle.key, f"{name}: {message}"))
    for step in describe_steps(process.spec, process.subprocess_specs, process.meta):
        found.extend(_decision_problems(step, bundle.forms))
        for lang, template in step.instructions.items():
            message = texts.check(template)
            if message:
                found.append(_problem(None, step.bpmn_id, f"instructions ({lang}): {message}"))
    return found


def _decision_problems(step, forms: dict) -> list[dict]:
    if not step.decision_field and not step.comment_field:
        return []
    definition = forms.get(step.form_key or "")
    props = definition["schema"].get("properties", {}) if definition else {}
    found = []
    if not step.decision_field:
        found.append(_problem(None, step.bpmn_id, "decision_comment needs a decision field"))
    elif props.get(step.decision_field, {}).get("type") != "boolean":
        message = f"the decision '{step.decision_field}' must be a boolean field of the step's form"
        found.append(_problem(None, step.bpmn_id, message))
    if step.comment_field and step.comment_field not in props:
        message = f"the decision comment '{step.comment_field}' is not a field of the step's form"
        found.append(_problem(None, step.bpmn_id, message))
    return found


def _problem(file, element_id, message) -> dict:
    return {"file": file, "line": None, "id": element_id, "message": message}
