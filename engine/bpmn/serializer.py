"""dumps()/loads() around one configured BpmnWorkflowSerializer, with the spec stored apart.

Instances store only their task tree and data; the spec of their process version is stored once in
the process_version table and passed back in on load (see the notes' spec store).
"""

import base64
import json
import zlib
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter

from engine.bpmn.cron import FlowDeskCycleTimerEventDefinition
from engine.bpmn.specs import ExternalServiceTask

FORMAT_VERSION = "flowdesk-1"  # our own: the library's migrations never run on our documents
COMPRESSED = "z:"  # prefix of deflated documents; older rows hold plain JSON


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Write the workflow without its spec; read it back with the spec handed in by loads()."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = dct.pop("_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _configure(specless: bool) -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[ExternalServiceTask] = ServiceTaskConverter
    config[FlowDeskCycleTimerEventDefinition] = config[CycleTimerEventDefinition]
    if specless:
        config[BpmnWorkflow] = _SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config), version=FORMAT_VERSION)


_WORKFLOWS = _configure(specless=True)
_SPECS = _configure(specless=False)


def dumps(workflow) -> str:
    """Serialize a workflow's state (not its spec): JSON, deflated and base64-encoded.

    Task trees repeat keys and UUIDs, so deflate shrinks a finished onboarding from ~10 KB to
    ~2 KB; base64 keeps the column text, readable by both SQLite and PostgreSQL tools.
    """
    raw = _WORKFLOWS.serialize_json(workflow).encode()
    return COMPRESSED + base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def document(text: str) -> str:
    """Return the JSON of a stored workflow (inflating a compressed one)."""
    if text.startswith(COMPRESSED):
        return zlib.decompress(base64.b64decode(text[len(COMPRESSED) :])).decode()
    return text


def loads(text: str, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
    """Restore a workflow saved by dumps() (or as plain JSON) onto the given spec objects."""
    dct = json.loads(document(text))
    dct.pop(_WORKFLOWS.VERSION_KEY, None)
    dct["_specs"] = (spec, subprocess_specs)
    workflow = _WORKFLOWS.from_dict(dct)
    workflow.script_engine = script_engine
    return workflow


def dump_specs(spec, subprocess_specs: dict) -> str:
    """Serialize a process spec and its subprocess specs, to be stored once per version."""
    return json.dumps(
        {
            "spec": _SPECS.to_dict(spec),
            "subprocess_specs": {k: _SPECS.to_dict(v) for k, v in subprocess_specs.items()},
        }
    )


def load_specs(text: str) -> tuple:
    """Restore (spec, subprocess_specs) from dump_specs() output."""
    dct = json.loads(text)
    subprocess_specs = {k: _SPECS.from_dict(v) for k, v in dct["subprocess_specs"].items()}
    return _SPECS.from_dict(dct["spec"]), subprocess_specs
