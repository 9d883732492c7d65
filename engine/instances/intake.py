"""Taking a form's data into a request: the one place forms are resolved and validated.

Both front ends hand the submitted data to a unit of work, which calls `take()` with the form of
the request's own version: the schema (with its format checks and "not before today"), the step's
decision rule (a rejection needs a reason), and the lookups the fields declare.
"""

from engine import clock
from engine.bpmn import runtime
from engine.catalog import reads as catalog
from engine.catalog.models import ProcessVersion
from engine.catalog.reads import Step
from engine.errors import InvalidInput
from engine.lookups import LOOKUPS
from forms.messages import FieldError, as_problem


def take(
    version: ProcessVersion,
    form_key: str | None,
    data,
    *,
    step: Step | None = None,
    problems: dict[str, list[FieldError]] | None = None,
) -> dict:
    """Return the data the form accepts; a step without a form takes no data.

    `problems` are what the front end already found (a number that did not parse): they are
    reported with the form's own, the front end's winning for a field.

    Raises:
        InvalidInput: field messages (extra["errors"] in English, extra["messages"] in both).
    """
    if not isinstance(data, dict):
        raise InvalidInput(
            "Form data must be a JSON object.", **as_problem({"_form": [FieldError("invalid")]})
        )
    form = catalog.form_of(version, form_key)
    if form is None:
        if problems:
            raise InvalidInput("The form has errors.", **as_problem(problems))
        if data:
            raise InvalidInput(
                "This step has no form and takes no data.",
                **as_problem({k: [FieldError("not_in_form")] for k in data}),
            )
        return {}
    clean, errors = form.check(data, today=clock.today())
    if step is not None and step.spec.decision_field:
        _decision_rule(step, data, errors)
    for name, lookup in form.lookups().items():
        if name in clean and name not in errors and lookup in LOOKUPS:
            problem = LOOKUPS[lookup](clean[name])
            if problem is not None:
                errors[name] = [problem]
    errors.update(problems or {})
    if errors:
        raise InvalidInput("The form has errors.", **as_problem(errors))
    reserved = runtime.reserved_keys(clean)
    if reserved:
        raise InvalidInput(
            "The form uses reserved field names.",
            **as_problem({k: [FieldError("reserved")] for k in reserved}),
        )
    return clean


def _decision_rule(step: Step, data: dict, errors: dict) -> None:
    """Approve or reject must be chosen, and a rejection needs a reason."""
    flag, comment = step.spec.decision_field, step.spec.comment_field
    if not isinstance(data.get(flag), bool):
        errors[flag] = [FieldError("decision_required")]
        return
    if data[flag] is False and comment and not str(data.get(comment) or "").strip():
        errors[comment] = [FieldError("reason_required")]


def decision_of(step: Step | None, data: dict) -> tuple[str | None, str | None]:
    """(approved | rejected, comment) for a step with a decision field, else (None, None)."""
    if step is None or not step.spec.decision_field:
        return None, None
    value = data.get(step.spec.decision_field)
    if not isinstance(value, bool):
        return None, None
    comment = data.get(step.spec.comment_field) if step.spec.comment_field else None
    return ("approved" if value else "rejected"), (str(comment) if comment else None)


def check_fields(version: ProcessVersion, values: dict) -> dict:
    """Check corrected values field by field, each against the form of the version that has it.

    A field that no form of the version declares is taken as it is.

    Raises:
        InvalidInput: field messages, as take().
    """
    errors: dict[str, list[FieldError]] = {}
    clean = {}
    forms = catalog.forms_of(version).values()
    for name, value in values.items():
        form = next((f for f in forms if f.field_schema(name) is not None), None)
        if form is None:
            clean[name] = value
            continue
        _data, found = form.check({name: value}, today=clock.today())
        mine = found.get(name, [])
        lookup = form.lookups().get(name)
        if not mine and lookup in LOOKUPS:
            problem = LOOKUPS[lookup](value)
            mine = [problem] if problem else []
        if mine:
            errors[name] = mine
        clean[name] = value
    if errors:
        raise InvalidInput("The corrected data has errors.", **as_problem(errors))
    return clean
