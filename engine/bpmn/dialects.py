"""Map what Camunda 7, Activiti and Flowable write into FlowDesk's own model, at deploy time.

The XML is rewritten before SpiffWorkflow parses it, so the spec holds only what FlowDesk runs:
a user task's `camunda:assignee`, `candidateGroups`, `candidateUsers`, `dueDate`, `priority` and
`formKey` become `spiffworkflow:property` entries; `formProperty` fields become `formData`; an
external task's `camunda:topic` becomes the operation of a `serviceTaskOperator`; JUEL conditions
become sandbox Python (engine/bpmn/juel.py); unquoted timers become the strings they are, cron
cycles included (engine/bpmn/cron.py runs them). Anything that cannot run here (Java delegates,
listeners, an attribute we would silently ignore) is a problem naming its file, line and
element, never accepted and stranded.
"""

import ast
import re
from datetime import datetime

from lxml import etree

from engine.bpmn import cron
from engine.bpmn.juel import JuelError, is_juel, to_python

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
DIALECTS = {
    CAMUNDA: "camunda",
    "http://activiti.org/bpmn": "activiti",
    "http://flowable.org/bpmn": "flowable",
}
# Attributes that change nothing FlowDesk does (job execution hints, modeler metadata).
IGNORED = {
    "asyncBefore", "asyncAfter", "async", "exclusive", "jobPriority", "taskPriority",
    "historyTimeToLive", "isStartableInTasklist", "versionTag", "candidateStarterGroups",
    "candidateStarterUsers", "modelerTemplate", "modelerTemplateVersion", "diagramRelationId",
    "calledElementBinding", "calledElementVersion", "calledElementVersionTag",
    "calledElementTenantId", "errorCodeVariable", "errorMessageVariable", "skipExpression",
    "formFieldValidation", "formHandlerClass", "isForCompensation", "inheritBusinessKey",
    "inheritVariables", "sameDeployment", "category", "initiator",
}  # fmt: skip
DELEGATES = ("class", "delegateExpression", "expression")
USER_TASK_ATTRIBUTES = ("assignee", "candidateGroups", "candidateUsers", "dueDate", "priority")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ISO_DURATION = re.compile(
    r"^(R\d*/)?P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)
_REGISTRY_FORM = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)?$")
WAY_OUT = (
    'model it as an external task (camunda:type="external" camunda:topic="<operation>") '
    "or a spiffworkflow:serviceTaskOperator naming an operation"
)


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def translate(name: str, tree, problems: list, *, key: str, decisions: dict) -> dict:
    """Rewrite one parsed file in place; return what the catalog needs to know of it.

    Returns {"initiator_variable": name or None}: a start event's `camunda:initiator`, the data
    name that holds the requester's username (`${initiator}` in an assignee).
    `decisions` maps the bundle's DMN decision ids to their output names.
    """
    found = {"initiator_variable": None}
    for element in list(tree.iter()):
        if not isinstance(element.tag, str):
            continue
        tag = etree.QName(element).localname
        if etree.QName(element).namespace in DIALECTS:
            _extension_element(name, element, problems)
            continue
        dialect_attributes = {
            key: value for key, value in element.attrib.items() if _dialect_of(key)
        }
        if tag == "startEvent":
            for key, value in dialect_attributes.items():
                local = etree.QName(key).localname
                if local == "initiator" and _NAME.match(value):
                    found["initiator_variable"] = value
                elif local == "formKey" and etree.QName(element.getparent()).localname == "process":
                    _form_key(name, element, value.strip(), problems, key)
                    form = _property(element, "form")
                    if form:
                        _set_property(element.getparent(), "start_form", form)
        if tag == "userTask":
            _user_task(name, element, dialect_attributes, problems, key)
        elif tag == "businessRuleTask":
            _business_rule_task(name, element, dialect_attributes, problems, decisions)
        elif tag in ("serviceTask", "sendTask"):
            _service_task(name, element, dialect_attributes, problems)
        _refuse_unmapped(name, element, dialect_attributes, problems)
        if tag in ("conditionExpression", "condition"):
            _condition(name, element, problems)
        elif tag in ("timeDuration", "timeDate", "timeCycle"):
            _timer(name, element, problems)
        elif tag in ("message", "signal") and "${" in (element.get("name") or ""):
            message = "message and signal names are fixed text, not expressions"
            _add(problems, name, element, message)
    return found


def _dialect_of(attribute: str) -> str | None:
    return DIALECTS.get(etree.QName(attribute).namespace) if attribute.startswith("{") else None


HANDLED = {
    "userTask": (*USER_TASK_ATTRIBUTES, "formKey"),
    "startEvent": ("formKey",),
    "serviceTask": ("type", "topic", "resultVariable"),
    "sendTask": ("type", "topic", "resultVariable"),
    "businessRuleTask": (
        "decisionRef",
        "resultVariable",
        "mapDecisionResult",
        "decisionRefBinding",
    ),
}


def _refuse_unmapped(name: str, element, attributes: dict, problems: list) -> None:
    tag = etree.QName(element).localname
    for key in attributes:
        local = etree.QName(key).localname
        if local in IGNORED or local in HANDLED.get(tag, ()) or local in DELEGATES:
            continue
        prefix = _dialect_of(key)
        _add(problems, name, element, f"{prefix}:{local} on a {tag} cannot be mapped to FlowDesk")


def _extension_element(name: str, element, problems: list) -> None:
    """Camunda/Flowable children of extensionElements: properties, form fields, listeners."""
    local = etree.QName(element).localname
    owner = _owner(element)
    if local in ("executionListener", "taskListener"):
        _add(problems, name, owner, f"a {local} cannot run in FlowDesk: {WAY_OUT}", at=element)
    elif local == "properties" and _local(element.getparent()) == "extensionElements":
        for prop in element:
            if isinstance(prop.tag, str) and prop.get("name"):
                _set_property(owner, prop.get("name"), prop.get("value", ""))
    elif local == "formProperty":
        _form_property(name, element, owner, problems)
    elif local in ("failedJobRetryTimeCycle", "inputOutput", "inputParameter", "outputParameter"):
        return  # retries are FlowDesk's own; input parameters are read by _service_task
    elif local == "in" or local == "out":
        return  # SpiffWorkflow hands a call activity all of its data, and takes all back
    elif etree.QName(element.getparent()).namespace in DIALECTS:
        return  # the children of an element handled above
    elif local not in ("formData", "formField", "value", "validation", "constraint", "property"):
        prefix = DIALECTS[etree.QName(element).namespace]
        _add(problems, name, owner, f"{prefix}:{local} cannot be mapped to FlowDesk", at=element)


def _user_task(name: str, element, attributes: dict, problems: list, key: str) -> None:
    by_name = {etree.QName(k).localname: v for k, v in attributes.items()}
    if "assignee" in by_name:
        value = _person(name, element, by_name["assignee"], problems)
        if value:
            _set_property(element, "assignee", value)
    if "candidateGroups" in by_name:
        groups = _people(name, element, by_name["candidateGroups"], problems)
        literal = [g for g in groups if not g.startswith("$")]
        if len(groups) == 1 and groups[0].startswith("$"):
            _set_property(element, "candidate_group_expression", groups[0][1:])
        elif literal:
            _set_property(element, "candidate_group", literal[0])
        if groups:
            _set_property(element, "candidate_groups", ",".join(groups))
    if "candidateUsers" in by_name:
        users = _people(name, element, by_name["candidateUsers"], problems)
        if users:
            _set_property(element, "candidate_users", ",".join(users))
    if "dueDate" in by_name:
        _due(name, element, by_name["dueDate"].strip(), problems)
    if "priority" in by_name:
        value = _person(name, element, by_name["priority"], problems, what="priority")
        if value and not (value.startswith("$") or value.lstrip("-").isdigit()):
            _add(problems, name, element, f"priority '{value}' is not a whole number")
        elif value:
            _set_property(element, "priority", value)
    has_form_data = element.find(f"{q(BPMN, 'extensionElements')}/{q(CAMUNDA, 'formData')}")
    if "formKey" in by_name and has_form_data is None:  # with formData Camunda ignores it too
        _form_key(name, element, by_name["formKey"].strip(), problems, key)


def _person(name, element, text: str, problems, *, what="assignee") -> str | None:
    """A literal, or `${name}` -> `$name` (a data name, resolved when the step opens)."""
    text = text.strip()
    if not is_juel(text):
        return text or None
    try:
        python = to_python(text)
    except JuelError as exc:
        _add(problems, name, element, f"{what}: {exc}")
        return None
    if not _NAME.match(python):
        _add(problems, name, element, f"{what} '{text}' must be a name or ${{name}}")
        return None
    return "$" + python


def _people(name, element, text: str, problems) -> list[str]:
    if is_juel(text.strip()):
        value = _person(name, element, text, problems, what="candidates")
        return [value] if value else []
    return [p.strip() for p in text.split(",") if p.strip()]


def _due(name, element, text: str, problems) -> None:
    if _ISO_DURATION.match(text) and not text.startswith("R"):
        _set_property(element, "due_in", text)
        return
    if is_juel(text):
        value = _person(name, element, text, problems, what="dueDate")
        if value:
            _set_property(element, "due_date", value)
        return
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        _add(problems, name, element, f"dueDate '{text}' is neither a date-time nor a duration")
        return
    if when.tzinfo is None:
        _add(problems, name, element, "dueDate needs a UTC offset (e.g. +08:00)")
        return
    _set_property(element, "due_date", when.isoformat())


def _form_key(name: str, element, key: str, problems: list, offering: str) -> None:
    if _REGISTRY_FORM.match(key):
        _set_property(element, "form", key if "." in key else f"{offering}.{key}")
    else:
        message = (
            f"formKey '{key}' names no form of the registry: use a form key such as "
            "<offering>.<step> (forms/<step>.json in the bundle) or camunda:formData fields"
        )
        _add(problems, name, element, message)


def _form_property(name: str, element, owner, problems: list) -> None:
    """Activiti/Flowable `formProperty` -> a Camunda `formField`, which forms/ renders."""
    extensions = element.getparent()
    form = extensions.find(q(CAMUNDA, "formData"))
    if form is None:
        form = etree.SubElement(extensions, q(CAMUNDA, "formData"))
    field = etree.SubElement(form, q(CAMUNDA, "formField"))
    kind = {"enum": "enum", "long": "long", "boolean": "boolean", "date": "date"}.get(
        element.get("type", "string"), "string"
    )
    field.set("id", element.get("id", ""))
    field.set("label", element.get("name") or element.get("id", ""))
    field.set("type", kind)
    if element.get("default"):
        field.set("defaultValue", element.get("default"))
    for value in element:
        if isinstance(value.tag, str) and etree.QName(value).localname == "value":
            option = etree.SubElement(field, q(CAMUNDA, "value"))
            option.set("id", value.get("id", ""))
            option.set("name", value.get("name") or value.get("id", ""))
    if element.get("required") == "true":
        validation = etree.SubElement(field, q(CAMUNDA, "validation"))
        etree.SubElement(validation, q(CAMUNDA, "constraint")).set("name", "required")


def _service_task(name: str, element, attributes: dict, problems: list) -> None:
    by_name = {etree.QName(k).localname: (k, v) for k, v in attributes.items()}
    tag = etree.QName(element).localname
    for delegate in DELEGATES:
        if delegate in by_name:
            prefix = _dialect_of(by_name[delegate][0])
            message = (
                f"{prefix}:{delegate} is a Java delegate, which cannot run in FlowDesk: {WAY_OUT}"
            )
            _add(problems, name, element, message)
            return
    if "type" in by_name and by_name["type"][1] != "external":
        prefix = _dialect_of(by_name["type"][0])
        kind = by_name["type"][1]
        _add(problems, name, element, f"{prefix}:type '{kind}' cannot run in FlowDesk: {WAY_OUT}")
        return
    if "topic" not in by_name:
        if attributes and tag != "businessRuleTask":
            _add(problems, name, element, f"an external task needs a topic: {WAY_OUT}")
        return
    operator = etree.Element(q(SPIFF, "serviceTaskOperator"))
    operator.set("id", by_name["topic"][1].strip())
    if "resultVariable" in by_name:
        operator.set("resultVariable", by_name["resultVariable"][1])
    parameters = etree.SubElement(operator, q(SPIFF, "parameters"))
    for param in element.iterfind(f".//{q(CAMUNDA, 'inputParameter')}"):
        value = (param.text or "").strip()
        if is_juel(value):
            try:
                value = to_python(value)
            except JuelError as exc:
                _add(problems, name, element, f"input parameter '{param.get('name')}': {exc}")
                continue
        else:
            value = repr(value)
        entry = etree.SubElement(parameters, q(SPIFF, "parameter"))
        entry.set("id", param.get("name", ""))
        entry.set("type", "any")
        entry.set("value", value)
    _extensions(element).append(operator)


def _business_rule_task(name, element, attributes: dict, problems: list, decisions: dict) -> None:
    """`camunda:decisionRef` -> `spiffworkflow:calledDecisionId`; its result mapped as Camunda's.

    SpiffWorkflow puts a decision's outputs straight into the data; `camunda:resultVariable`
    with `mapDecisionResult` (singleEntry, singleResult, resultList) is built from them.
    """
    by_name = {etree.QName(k).localname: (k, v) for k, v in attributes.items()}
    for delegate in DELEGATES:
        if delegate in by_name:
            _service_task(name, element, attributes, problems)
            return
    spiff = element.find(f"{q(BPMN, 'extensionElements')}/{q(SPIFF, 'calledDecisionId')}")
    ref = by_name["decisionRef"][1].strip() if "decisionRef" in by_name else None
    ref = ref or (spiff.text.strip() if spiff is not None and spiff.text else None)
    if ref is None:
        _add(problems, name, element, "a business rule task needs a decision (camunda:decisionRef)")
        return
    if ref not in decisions:
        found = ", ".join(sorted(decisions)) or "none"
        message = f"decision '{ref}' is in no DMN file of the bundle (found: {found})"
        _add(problems, name, element, message)
        return
    if spiff is None:
        etree.SubElement(_extensions(element), q(SPIFF, "calledDecisionId")).text = ref
    if "resultVariable" in by_name:
        _result_variable(name, element, by_name, decisions[ref], problems)


def _result_variable(name, element, by_name: dict, outputs: list[str], problems: list) -> None:
    variable = by_name["resultVariable"][1].strip()
    mapping = by_name.get("mapDecisionResult", (None, "resultList"))[1]
    row = "{" + ", ".join(f"{o!r}: {o}" for o in outputs) + "}"
    values = {
        "singleEntry": outputs[0] if len(outputs) == 1 else None,
        "singleResult": row,
        "resultList": f"[{row}]",
    }
    value = values.get(mapping)
    if not _NAME.match(variable) or value is None:
        message = f"resultVariable '{variable}' with mapDecisionResult '{mapping}' cannot be mapped"
        _add(problems, name, element, message)
        return
    script = etree.SubElement(_extensions(element), q(SPIFF, "postScript"))
    script.text = f"{variable} = {value}"


def _condition(name: str, element, problems: list) -> None:
    language = (element.get("language") or "").lower()
    owner = _owner(element)
    if language and language not in ("python", "text/x-python", "juel", "${}"):
        _add(
            problems,
            name,
            owner,
            f"conditions in '{language}' cannot run: write JUEL or Python",
            at=element,
        )
        return
    if is_juel(element.text):
        try:
            element.text = to_python(element.text)
        except JuelError as exc:
            _add(problems, name, owner, f"condition {exc}", at=element)


def _timer(name: str, element, problems: list) -> None:
    text = (element.text or "").strip()
    owner = _owner(element)
    if is_juel(text):
        try:
            element.text = to_python(text)
        except JuelError as exc:
            _add(problems, name, owner, f"timer {exc}", at=element)
    elif _ISO_DURATION.match(text) or _is_iso_datetime(text):
        element.text = repr(text)  # Camunda writes timers unquoted; they are strings
    elif etree.QName(element).localname == "timeCycle" and cron.is_cron(_literal(text) or text):
        message = cron.check(_literal(text) or text)  # cron runs as cron (engine/bpmn/cron.py)
        if message:
            _add(problems, name, owner, message, at=element)
        if _literal(text) is None:
            element.text = repr(text)  # a string either way: reported once, not again as Python


def _literal(text: str) -> str | None:
    """The string a quoted Python literal (`"0 0 9 * * ?"`, as Spiff modelers write) holds."""
    if text[:1] not in ("'", '"'):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _is_iso_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text or len(text) == 10


def _local(element) -> str:
    return etree.QName(element).localname


def _owner(element):
    """The element a problem names: the nearest ancestor with an id, events over definitions."""
    return next(
        (
            e
            for e in element.iterancestors()
            if e.get("id") and not _local(e).endswith(("EventDefinition", "extensionElements"))
        ),
        element,
    )


def _extensions(element):
    found = element.find(q(BPMN, "extensionElements"))
    if found is None:
        found = etree.Element(q(BPMN, "extensionElements"))
        documentation = element.find(q(BPMN, "documentation"))
        element.insert(0 if documentation is None else 1, found)
    return found


def _set_property(element, key: str, value: str) -> None:
    extensions = _extensions(element)
    props = extensions.find(q(SPIFF, "properties"))
    if props is None:
        props = etree.SubElement(extensions, q(SPIFF, "properties"))
    for prop in props:
        if prop.get("name") == key:
            return  # a spiffworkflow property written by the designer wins
    entry = etree.SubElement(props, q(SPIFF, "property"))
    entry.set("name", key)
    entry.set("value", value)


def _property(element, key: str) -> str | None:
    props = element.find(f"{q(BPMN, 'extensionElements')}/{q(SPIFF, 'properties')}")
    for prop in props if props is not None else ():
        if prop.get("name") == key:
            return prop.get("value")
    return None


def _add(problems: list, name: str, element, message: str, *, at=None) -> None:
    """A problem naming `element`, on the line of `at` (the expression) when given."""
    line = (at if at is not None else element).sourceline
    problems.append({"file": name, "line": line, "id": element.get("id"), "message": message})
