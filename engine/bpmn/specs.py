"""Parse and validate BPMN files into specs, and describe their steps as plain data.

Every problem becomes one InvalidProcess listing each finding with file, line and element id:
XML syntax, the BPMN/spiff XSD (all errors, not only lxml's last one), SpiffWorkflow's semantic
checks (whose empty line numbers we fill in by looking the id up), and restricted compilation of
every script, condition and expression, so that a broken model is refused at deploy time instead of
failing on a requester's instance.
"""

import ast
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

from engine.bpmn import cron, dialects, dmn, structure
from engine.bpmn.durations import is_duration
from engine.bpmn.scripting import (
    RestrictedScriptError,
    compile_expression,
    compile_script,
    unavailable_names,
)
from engine.errors import InvalidProcess

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
MAX_FILE_BYTES = 2 * 1024 * 1024
CATALOG_FIELDS = (
    "name_en",
    "name_zh",
    "category",
    "department",  # the department whose agents handle its requests (department scoping)
    "summary_en",
    "summary_zh",
    "description_en",
    "description_zh",
    "expected_duration",
    "keywords",
    "start_form",
    "title_template",
    "title_template_zh",
)
OUTCOMES = ("done", "approved", "rejected")  # an end event's `outcome` property
HUMAN_KINDS = ("UserTask", "ManualTask")
_UNQUOTED_TIME = re.compile(r"^(R\d*/)?P[0-9TYMWDHS.,/]+$|^\d{4}-\d{2}-\d{2}")
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class ExternalServiceTask(ServiceTask):
    """Service task that never runs inline: it records a job and waits (STARTED) for a worker."""

    def _execute(self, task):
        params = {
            name: task.workflow.script_engine.evaluate(task, param["value"])
            for name, param in self.operation_params.items()
        }
        task.internal_data["job"] = {
            "operation": self.operation_name,
            "params": params,
            "status": "pending",
        }
        return None  # None => Task.run() leaves the task STARTED; other branches go on


class FlowDeskParser(SpiffBpmnParser):
    """The spiff parser with service tasks handed to workers."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, ExternalServiceTask),
    }


@dataclass
class ParsedProcess:
    """One offering's validated BPMN files, its spec objects and its catalog metadata."""

    key: str
    files: dict[str, bytes]
    spec: object
    subprocess_specs: dict
    meta: dict = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(self.files)

    def form_keys(self) -> set[str]:
        keys = {self.meta["start_form"]} if self.meta.get("start_form") else set()
        for spec in self._all_task_specs():
            form = getattr(spec, "extensions", {}).get("properties", {}).get("form")
            if form:
                keys.add(form)
        return keys

    def operation_names(self) -> set[str]:
        return {
            spec.operation_name
            for spec in self._all_task_specs()
            if isinstance(spec, ExternalServiceTask)
        }

    def _all_task_specs(self):
        for process_spec in [self.spec, *self.subprocess_specs.values()]:
            yield from process_spec.task_specs.values()


@dataclass(frozen=True)
class StepSpec:
    """One BPMN element of a process as the platform describes it to people (plain data)."""

    bpmn_id: str
    kind: str  # the task spec class: UserTask, ExternalServiceTask, ExclusiveGateway, ...
    name: str
    name_zh: str | None
    lane: str | None
    form_key: str | None
    instructions: dict  # {"en": template, "zh": template}; empty when there are none
    decision_field: str | None  # a boolean field: True approves, False rejects
    comment_field: str | None  # the reason that goes with the decision
    operation: str | None  # service tasks: the operation they call
    reads: tuple[str, ...]  # service tasks: the data their parameters read
    result_variable: str | None  # service tasks: where their result lands in the data
    parent: str | None  # the subprocess holding the step
    conditional: bool  # reached only through a boundary event (a reminder, an escalation)

    @property
    def is_human(self) -> bool:
        return self.kind in HUMAN_KINDS


def describe_steps(spec, subprocess_specs: dict, meta: dict) -> list[StepSpec]:
    """Every element with a BPMN id, in process order (nearest the start first).

    `meta` is the version's metadata: its embedded forms and the Chinese names of elements the
    library parses no extensions for (gateways).
    """
    steps: list[StepSpec] = []
    _walk(spec, subprocess_specs, meta, steps, conditional=False, parent=None, depth=0)
    seen = {s.bpmn_id for s in steps}
    for process_spec in [spec, *subprocess_specs.values()]:  # elements no flow reaches
        for task_spec in process_spec.task_specs.values():
            step = _describe(task_spec, meta, conditional=True, parent=None)
            if step is not None and step.bpmn_id not in seen:
                seen.add(step.bpmn_id)
                steps.append(step)
    return steps


def _walk(process_spec, subprocess_specs, meta, steps, *, conditional, parent, depth) -> None:
    queue, seen = [(process_spec.start, conditional)], set()
    known = {s.bpmn_id for s in steps}
    while queue:
        task_spec, branch = queue.pop(0)
        if task_spec.name in seen:
            continue
        seen.add(task_spec.name)
        step = _describe(task_spec, meta, conditional=branch, parent=parent)
        if step is not None and step.bpmn_id not in known:
            known.add(step.bpmn_id)
            steps.append(step)
        kind = type(task_spec).__name__
        if kind == "SubWorkflowTask" and task_spec.spec in subprocess_specs and depth < 5:
            _walk(
                subprocess_specs[task_spec.spec],
                subprocess_specs,
                meta,
                steps,
                conditional=branch,
                parent=task_spec.bpmn_id,
                depth=depth + 1,
            )
            known = {s.bpmn_id for s in steps}
        branch = branch or kind == "BoundaryEvent"
        queue.extend((output, branch) for output in task_spec.outputs)


def _describe(task_spec, meta: dict, *, conditional: bool, parent) -> StepSpec | None:
    bpmn_id = getattr(task_spec, "bpmn_id", None)
    if not bpmn_id:
        return None
    extensions = getattr(task_spec, "extensions", None) or {}
    props = extensions.get("properties", {})
    embedded = meta.get("embedded_forms", {})
    form_key = props.get("form") or (f"embedded:{bpmn_id}" if bpmn_id in embedded else None)
    instructions = {}
    if extensions.get("instructionsForEndUser"):
        instructions["en"] = extensions["instructionsForEndUser"]
    if props.get("instructions_zh"):
        instructions["zh"] = props["instructions_zh"]
    is_service = isinstance(task_spec, ExternalServiceTask)
    return StepSpec(
        bpmn_id=bpmn_id,
        kind=type(task_spec).__name__,
        name=task_spec.bpmn_name or bpmn_id,
        name_zh=props.get("name_zh") or meta.get("names_zh", {}).get(bpmn_id) or None,
        lane=task_spec.lane,
        form_key=form_key,
        instructions=instructions,
        decision_field=props.get("decision") or None,
        comment_field=props.get("decision_comment") or None,
        operation=task_spec.operation_name if is_service else None,
        reads=_names_read(task_spec) if is_service else (),
        result_variable=task_spec.result_variable if is_service else None,
        parent=parent,
        conditional=conditional,
    )


def _names_read(task_spec) -> tuple[str, ...]:
    """The data names a service task's parameter expressions read, in order of appearance."""
    names: dict[str, None] = {}
    for param in task_spec.operation_params.values():
        try:
            tree = ast.parse(str(param.get("value", "")), mode="eval")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                names.setdefault(node.id, None)
    return tuple(n for n in names if n not in _EXPRESSION_GLOBALS)


_EXPRESSION_GLOBALS = {
    "True",
    "False",
    "None",
    "str",
    "int",
    "float",
    "len",
    "dict",
    "list",
    "datetime",
    "timedelta",
    "date",
    "timezone",
    "days_before",
    "open_steps",
}


def content_hash(files: dict[str, bytes]) -> str:
    """Return the hash identifying one version: file names and bytes, order-independent."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(hashlib.sha256(name.encode()).digest())
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def parse_process(
    key: str, files: dict[str, bytes], *, process_id: str | None = None
) -> ParsedProcess:
    """Parse and validate the files of offering `key`, whose main process is `process_id`.

    The process id is any valid BPMN id (`Process_1`, `sid-…`); it defaults to the key.
    Camunda, Activiti and Flowable extensions are mapped first (engine/bpmn/dialects.py).

    Raises:
        InvalidProcess: with extra["problems"], a list of {file, line, id, message}.
    """
    problems: list[dict] = []
    if not KEY_PATTERN.match(key or ""):
        raise InvalidProcess(
            f"'{key}' is not a valid process key (lowercase letters, digits, underscores)",
            problems=[_problem(None, None, None, "invalid process key")],
        )
    if not files:
        raise InvalidProcess("no BPMN file given", problems=[_problem(None, None, None, "no file")])
    trees, decision_trees = {}, {}
    for name, content in files.items():
        tree = _parse_xml(name, content, problems)
        if tree is not None and dmn.is_dmn(name):
            decision_trees[name] = tree
        elif tree is not None:
            _validate_schema(name, tree, problems)
            trees[name] = tree
    if problems:
        raise invalid(key, problems)
    decisions = {}
    for name, tree in decision_trees.items():
        dmn.translate(name, tree, problems)
        for decision in tree.iter("{*}decision"):
            outputs = [o.get("name") for o in decision.iter("{*}output") if o.get("name")]
            decisions[decision.get("id")] = outputs
    notes = {}
    for name, tree in trees.items():
        found = dialects.translate(name, tree, problems, key=key, decisions=decisions)
        notes["initiator_variable"] = notes.get("initiator_variable") or found["initiator_variable"]
        structure.check(name, tree, problems)
    structure.check_recursion(trees, problems)
    for name, tree in trees.items():
        _check_model(name, tree, problems)
    if problems:
        raise invalid(key, problems)
    parsed = _build_specs(key, process_id or key, files, trees, problems, decision_trees)
    if parsed is not None:
        parsed.meta["process_id"] = process_id or key
        parsed.meta["initiator_variable"] = notes["initiator_variable"] or _initiator_used(trees)
    if problems:
        raise invalid(key, problems)
    return parsed


def main_process_ids(files: dict[str, bytes]) -> list[str]:
    """The executable processes no call activity of the files calls: what an upload offers.

    Files that cannot be read give none (parse_process reports why).
    """
    executable, called, pools = [], set(), {}
    for content in files.values():
        try:
            tree = etree.fromstring(content, _XML_PARSER)
        except (etree.XMLSyntaxError, ValueError):
            continue
        for process in tree.iterfind("bpmn:process", NS):
            if process.get("isExecutable", "true") != "false" and process.get("id"):
                executable.append(process.get("id"))
        called.update(c.get("calledElement") for c in tree.iterfind(".//bpmn:callActivity", NS))
        for collaboration in tree.iterfind("bpmn:collaboration", NS):
            refs = [p.get("processRef") for p in collaboration.iterfind("bpmn:participant", NS)]
            pools[collaboration.get("id")] = refs
    for collaboration_id, refs in pools.items():
        running = [r for r in refs if r in executable]
        if len(running) > 1:  # two executable pools run together, as one collaboration
            called.update(running)
            executable.append(collaboration_id)
    main = [process_id for process_id in executable if process_id not in called]
    return main or executable  # they all call each other: parse_process names the recursion


def _problem(file, line, element_id, message) -> dict:
    return {"file": file, "line": line, "id": element_id, "message": message}


def invalid(key: str, problems: list[dict]) -> InvalidProcess:
    """One InvalidProcess for every problem found: the first in its detail, all in `problems`."""
    first = problems[0]
    where = ":".join(str(p) for p in (first["file"], first["line"]) if p)
    summary = f"{first['message']}" + (f" ({where})" if where else "")
    more = f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
    return InvalidProcess(f"process '{key}' is invalid: {summary}{more}", problems=problems)


def _parse_xml(name: str, content: bytes, problems: list) -> etree._Element | None:
    if len(content) > MAX_FILE_BYTES:
        problems.append(_problem(name, None, None, f"file larger than {MAX_FILE_BYTES} bytes"))
        return None
    if b"<!DOCTYPE" in content[:4096] or b"<!ENTITY" in content:
        problems.append(_problem(name, None, None, "DOCTYPE and entity declarations are refused"))
        return None
    try:
        tree = etree.fromstring(content, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        problems.append(_problem(name, exc.lineno, None, f"malformed XML: {exc.msg}"))
    except ValueError as exc:
        problems.append(_problem(name, None, None, f"unreadable XML: {exc}"))
    else:
        docinfo = tree.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:  # any encoding, e.g. UTF-16
            problems.append(
                _problem(name, None, None, "DOCTYPE and entity declarations are refused")
            )
            return None
        return tree
    return None


def _validate_schema(name: str, tree, problems: list) -> None:
    VALIDATOR.preprocess(tree)
    schema = VALIDATOR.validator
    if not schema.validate(tree):
        for error in schema.error_log:
            element_id = _id_at_line(tree, error.line)
            problems.append(_problem(name, error.line, element_id, readable(error.message)))


def _id_at_line(tree, line: int):
    for element in tree.iter():
        if element.sourceline == line and element.get("id"):
            return element.get("id")
    return None


def _check_model(name: str, tree, problems: list) -> None:
    """Catch SpiffWorkflow 3.2.0 traps that would otherwise be silent or crash obscurely."""
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        if element.get("id") == "Start":
            problems.append(
                _problem(name, element.sourceline, "Start", "the id 'Start' is reserved")
            )
    for flow in tree.iterfind(".//bpmn:sequenceFlow", NS):
        if not flow.get("id"):
            problems.append(_problem(name, flow.sourceline, None, "sequenceFlow without an id"))
    for script in tree.iterfind(".//bpmn:scriptTask", NS):
        body = script.find("bpmn:script", NS)
        fmt = (script.get("scriptFormat") or "python").lower()
        if fmt not in ("python", "text/x-python"):
            problems.append(
                _problem(name, script.sourceline, script.get("id"), f"script format '{fmt}'")
            )
        elif body is not None and body.text:
            _check_code(name, body, script.get("id"), compile_script, problems)
    for cond in tree.iterfind(".//bpmn:conditionExpression", NS):
        _check_code(name, cond, cond.getparent().get("id"), compile_expression, problems)
    for cond in tree.iterfind(".//bpmn:conditionalEventDefinition/bpmn:condition", NS):
        owner = cond.getparent().getparent()
        _check_code(name, cond, owner.get("id"), compile_expression, problems)
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        for expr in tree.iterfind(f".//bpmn:{tag}", NS):
            owner = expr.getparent().getparent()
            if _UNQUOTED_TIME.match((expr.text or "").strip()):
                problems.append(
                    _problem(
                        name,
                        expr.sourceline,
                        owner.get("id"),
                        f'timer expressions are Python: quote it, e.g. "{expr.text.strip()}"',
                    )
                )
                continue
            if tag == "timeDate" and _naive_date_literal(expr.text):
                message = "timeDate needs a UTC offset (e.g. +08:00): naive times follow the server"
                problems.append(_problem(name, expr.sourceline, owner.get("id"), message))
            _check_code(name, expr, owner.get("id"), compile_expression, problems)
    for prop in tree.iterfind(".//spiffworkflow:property[@name='due_in']", NS):
        if not is_duration(prop.get("value", "")):
            owner = prop.getparent().getparent().getparent()
            problems.append(
                _problem(
                    name,
                    prop.sourceline,
                    owner.get("id"),
                    "due_in must be an ISO 8601 duration such as P2D or PT4H",
                )
            )
    for script in tree.iterfind(".//bpmn:script", NS):
        if script.text and _has_import(script.text):
            owner = script.getparent()
            problems.append(
                _problem(name, script.sourceline, owner.get("id"), "scripts may not import modules")
            )
    for param in tree.iterfind(".//spiffworkflow:parameter", NS):
        owner = next(param.iterancestors(full_tag("serviceTask")), None)
        owner_id = owner.get("id") if owner is not None else None
        _check_value(name, param, param.get("value", ""), owner_id, problems)
    for prop in tree.iterfind(".//spiffworkflow:property[@name='candidate_group_expression']", NS):
        owner = prop.getparent().getparent().getparent()
        _check_value(name, prop, prop.get("value", ""), owner.get("id"), problems)
    _check_outcomes(name, tree, problems)


def _check_outcomes(name: str, tree, problems: list) -> None:
    """An end event's `outcome` is one of OUTCOMES; its `outcome_reason` is an expression."""
    for prop in tree.iterfind(".//spiffworkflow:property[@name='outcome']", NS):
        owner = prop.getparent().getparent().getparent()
        if owner.tag != full_tag("endEvent"):
            message = "only end events say the outcome of a request"
            problems.append(_problem(name, prop.sourceline, owner.get("id"), message))
        elif prop.get("value") not in OUTCOMES:
            message = f"outcome must be one of {', '.join(OUTCOMES)}"
            problems.append(_problem(name, prop.sourceline, owner.get("id"), message))
    for prop in tree.iterfind(".//spiffworkflow:property[@name='outcome_reason']", NS):
        owner = prop.getparent().getparent().getparent()
        _check_value(name, prop, prop.get("value", ""), owner.get("id"), problems)


def _has_import(code: str) -> bool:
    try:
        return any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(ast.parse(code)))
    except SyntaxError:
        return False  # reported by the restricted compile


def _naive_date_literal(text: str | None) -> bool:
    """A quoted ISO date-time without an offset (SpiffWorkflow freezes the server's; NOTES §4)."""
    try:
        value = ast.literal_eval((text or "").strip())
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _check_code(name, element, element_id, compiler, problems) -> None:
    _check_value(name, element, element.text or "", element_id, problems, compiler)


def _check_value(name, element, code, element_id, problems, compiler=compile_expression) -> None:
    if not code.strip():
        problems.append(_problem(name, element.sourceline, element_id, "empty expression"))
        return
    try:
        compiler(code)
    except (RestrictedScriptError, SyntaxError) as exc:
        problems.append(_problem(name, element.sourceline, element_id, f"{exc}"))
        return
    for missing in unavailable_names(code):
        message = f"'{missing}' is not available in the script sandbox"
        problems.append(_problem(name, element.sourceline, element_id, message))


def _initiator_used(trees: dict) -> str | None:
    """`initiator`, when an assignee names it without a start event's `camunda:initiator`."""
    for tree in trees.values():
        for prop in tree.iterfind(".//spiffworkflow:property", NS):
            if "$initiator" in prop.get("value", "").split(","):
                return "initiator"
    return None


def _build_specs(
    key: str, process_id: str, files: dict, trees: dict, problems: list, decision_trees: dict
) -> ParsedProcess | None:
    parser = FlowDeskParser()  # one parser per deployment: a parser is load-once
    try:
        for name, tree in decision_trees.items():
            parser.add_dmn_xml(tree, filename=name)
        for name, tree in trees.items():
            parser.add_bpmn_xml(etree.ElementTree(tree), filename=name)
        parser.find_all_specs()
        if process_id in parser.collaborations:  # its executable pools run together
            spec, subprocess_specs = parser.get_collaboration(process_id)
        elif process_id not in parser.get_process_ids():
            found = ", ".join(sorted(parser.get_process_ids())) or "none"
            message = f"no executable process '{process_id}' (found: {found})"
            problems.append(_problem(None, None, process_id, message))
            return None
        else:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        problems.append(_validation_problem(exc, trees))
        return None
    except (TypeError, KeyError, AttributeError, ValueError) as exc:  # library traps, see notes
        problems.append(_problem(None, None, None, f"unsupported model: {exc!r}"))
        return None
    cron.adopt(spec, *(s for s in subprocess_specs.values() if s is not None))
    meta = _catalog_meta(trees, process_id)
    meta["embedded_forms"] = _camunda_forms(trees)
    return ParsedProcess(key, dict(files), spec, subprocess_specs, meta)


def _validation_problem(exc: ValidationException, trees: dict) -> dict:
    message = str(exc).split("\n")[0]
    element_id, file_name, line = exc.id or None, exc.file_name or None, exc.line_number or None
    missing = re.search(r"The process '([^']+)' was not found", message)
    if missing:  # an unknown call activity: name the calling element
        for name, tree in trees.items():
            for call in tree.iterfind(".//bpmn:callActivity", NS):
                if call.get("calledElement") == missing.group(1):
                    element_id, file_name, line = call.get("id"), name, call.sourceline
    for name, tree in trees.items() if element_id else ():
        found = tree.xpath("//*[@id=$id]", id=element_id)
        if found:  # 3.2.0 leaves line_number empty for semantic errors
            file_name, line = file_name or name, line or found[0].sourceline
            message = _library_message(message, found[0])
            break
    return _problem(file_name, line, element_id, readable(message))


_PREFIXES = {uri: prefix for prefix, uri in NS.items()}
_CLARK = re.compile(r"\{([^}]*)\}([A-Za-z_][\w.-]*)")
_LXML_REPR = re.compile(r"<Element (\{[^}]*\}[\w.-]+) at 0x[0-9a-fA-F]+>")


def readable(message: str) -> str:
    """A library message without lxml reprs and namespace URIs (`{...}dataStore` -> `bpmn:...`)."""
    message = _LXML_REPR.sub(r"\1", message)
    message = _CLARK.sub(lambda m: f"{_PREFIXES.get(m.group(1), m.group(1))}:{m.group(2)}", message)
    return re.sub(r"\.\s*\.\s*$", ".", message.strip())


def _library_message(message: str, element) -> str:
    """Say what SpiffWorkflow 3.2.0 leaves out: the type it cannot run, the reference it missed."""
    tag = etree.QName(element).localname
    if message.startswith("There is no support implemented for this task type"):
        return f"FlowDesk cannot run a bpmn:{tag} (SpiffWorkflow has no support for it)"
    association = re.match(r"Cannot resolve (dataInputAssociation|dataOutputAssociation)", message)
    if association:
        refs = element.xpath(
            f".//bpmn:{association.group(1)}/bpmn:sourceRef | "
            f".//bpmn:{association.group(1)}/bpmn:targetRef",
            namespaces=NS,
        )
        name = next((r.text.strip() for r in refs if r.text and r.text.strip()), "?")
        stores = element.getroottree().xpath(
            "//bpmn:dataStoreReference[@id=$id]", id=name, namespaces=NS
        )
        if stores:
            return f"'{name}' is a data store: FlowDesk has no data stores, use a data object"
        return f"{association.group(1)} names '{name}', which is no data object of this process"
    return message


def _catalog_meta(trees: dict, key: str) -> dict:
    meta = {"name_en": key}
    for tree in trees.values():
        for collaboration in tree.iterfind("bpmn:collaboration", NS):
            if collaboration.get("id") == key:
                meta["name_en"] = collaboration.get("name") or key
        for process in tree.iterfind("bpmn:process", NS):
            if process.get("id") != key:
                continue
            meta["name_en"] = process.get("name") or key
            props = process.iterfind(
                "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS
            )
            for prop in props:
                if prop.get("name") in CATALOG_FIELDS:
                    meta[prop.get("name")] = prop.get("value", "")
            start_form = process.find("bpmn:startEvent/bpmn:extensionElements", NS)
            if start_form is not None and start_form.find("camunda:formData", NS) is not None:
                meta.setdefault("start_form", "embedded:" + start_form.getparent().get("id"))
    meta.setdefault("name_zh", meta["name_en"])
    meta["keywords"] = [k.strip() for k in meta.get("keywords", "").split(",") if k.strip()]
    meta["lanes"] = _lane_names(trees)
    meta["names_zh"] = _names_zh(trees)
    return meta


def _names_zh(trees: dict) -> dict:
    """Element id -> its `name_zh` property, read from the XML for every kind of element."""
    names = {}
    for tree in trees.values():
        for prop in tree.iterfind(".//spiffworkflow:property[@name='name_zh']", NS):
            owner = prop.getparent().getparent().getparent()
            if owner.get("id") and prop.get("value"):
                names[owner.get("id")] = prop.get("value")
    return names


def _lane_names(trees: dict) -> dict:
    """Lane name -> {"en", "zh"}: a lane's `name_zh` property, for pages in Chinese."""
    lanes = {}
    for tree in trees.values():
        for lane in tree.iterfind(".//bpmn:lane", NS):
            name = lane.get("name")
            if not name:
                continue
            zh = lane.find(
                "bpmn:extensionElements/spiffworkflow:properties/"
                "spiffworkflow:property[@name='name_zh']",
                NS,
            )
            lanes[name] = {"en": name, "zh": zh.get("value") if zh is not None else name}
    return lanes


def _camunda_forms(trees: dict) -> dict:
    """Map element id -> list of Camunda formData fields, as plain JSON."""
    forms = {}
    for tree in trees.values():
        for form in tree.iterfind(".//camunda:formData", NS):
            owner = form.getparent().getparent()
            fields = []
            for item in form.iterfind("camunda:formField", NS):
                fields.append(
                    {
                        "id": item.get("id"),
                        "label": item.get("label") or item.get("id"),
                        "type": item.get("type", "string"),
                        "default": item.get("defaultValue"),
                        "options": [
                            [v.get("id"), v.get("name") or v.get("id")]
                            for v in item.iterfind("camunda:value", NS)
                        ],
                        "constraints": {
                            c.get("name"): c.get("config")
                            for c in item.iterfind("camunda:validation/camunda:constraint", NS)
                        },
                    }
                )
            forms[owner.get("id")] = fields
    return forms
