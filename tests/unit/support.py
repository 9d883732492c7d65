"""Unit-tier support: small BPMN documents, fake operations, and an instance kept as JSON."""

from engine.bpmn import runtime, serializer
from engine.bpmn.specs import ParsedProcess, parse_process
from forms.model import Form

BPMN_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="demo_definitions" targetNamespace="http://flowdesk.example.org/bpmn">
  <bpmn:process id="{process_id}" name="Demo" isExecutable="true">
"""
BPMN_TAIL = """  </bpmn:process>
</bpmn:definitions>
"""

# start -> calc (script) -> end
SCRIPT_BODY = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc" name="Calculate" scriptFormat="python">
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end" name="Done"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="calc" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="calc" targetRef="end" />
"""

# start -> wait (intermediate timer) -> end
TIMER_BODY = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait">
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:{kind} xsi:type="bpmn:tFormalExpression">{expression}</bpmn:{kind}>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="wait" targetRef="end" />
"""

# start -> review (user task in lane "IT Support & Ops") -> notify (service task) -> end
STEPS_BODY = """
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_it" name="IT Support &amp; Ops">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>notify</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="form" value="demo.review" />
          <spiffworkflow:property name="due_in" value="P2D" />
        </spiffworkflow:properties>
        <spiffworkflow:instructionsForEndUser>Review {{item}}</spiffworkflow:instructionsForEndUser>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:serviceTask id="notify" name="Notify">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify.im" resultVariable="notified">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="text" type="str" value="'Reviewed: ' + item" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_2</bpmn:incoming>
      <bpmn:outgoing>flow_3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="review" targetRef="notify" />
    <bpmn:sequenceFlow id="flow_3" sourceRef="notify" targetRef="end" />
"""


def bpmn(body: str, process_id: str = "demo") -> bytes:
    """Wrap process elements into a BPMN document with the bpmn and spiffworkflow namespaces."""
    return (BPMN_HEAD.format(process_id=process_id) + body + BPMN_TAIL).encode()


def parse(body: str, key: str = "demo") -> ParsedProcess:
    """Parse and validate a one-file process through the deploy path."""
    return parse_process(key, {f"{key}.bpmn": bpmn(body, key)})


def line_of(document: bytes, marker: str) -> int:
    """Return the 1-based line of the first occurrence of `marker` in a document."""
    index = document.index(marker.encode())
    return document[:index].count(b"\n") + 1


def _account(params: dict) -> dict:
    username = params["username"]
    return {"username": username, "email": f"{username}@example.com", "created": True}


FAKE_RESULTS = {
    "directory.create_account": _account,
    "directory.grant_vpn": lambda p: {"username": p["username"], "vpn_profile": p["profile"]},
    "mail.send": lambda p: {"sent": True, "message_id": "<fake@flowdesk.test>"},
    "notify.im": lambda p: {"delivered": True, "channel": p.get("channel", "default")},
    "http.request": lambda p: {"status": 200, "body": {}},
}


class FakeOperations:
    """Stands in for workers.operations.OPERATIONS: records each call, returns a canned result."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, operation: str, params: dict) -> dict:
        self.calls.append((operation, dict(params)))
        return FAKE_RESULTS[operation](params)

    @property
    def called(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def params(self, operation: str) -> list[dict]:
        return [params for name, params in self.calls if name == operation]


class StoredInstance:
    """Stands in for a ProcessInstance row: only its JSON survives from one step to the next.

    Every action loads the workflow onto the parsed spec, acts through engine.runtime and dumps
    it again, as the units of work do; step data goes through the step's form first, as theirs does.
    """

    def __init__(self, parsed: ParsedProcess, data: dict, forms: dict[str, Form]):
        self.parsed, self.forms = parsed, forms
        start_form = parsed.meta.get("start_form")
        data = forms.get(start_form).load(data) if start_form else data
        assert runtime.reserved_keys(data) == []
        self.workflow_json = serializer.dumps(
            runtime.start(parsed.spec, parsed.subprocess_specs, data)
        )

    def load(self):
        spec, subprocess_specs = self.parsed.spec, self.parsed.subprocess_specs
        return serializer.loads(self.workflow_json, spec, subprocess_specs, runtime.SCRIPT_ENGINE)

    def save(self, workflow) -> None:
        self.workflow_json = serializer.dumps(workflow)

    def open_steps(self) -> list[runtime.OpenStep]:
        return runtime.open_steps(self.load())

    def open_step_ids(self) -> list[str]:
        return sorted(step.bpmn_id for step in self.open_steps())

    def step(self, bpmn_id: str) -> runtime.OpenStep:
        (step,) = [s for s in self.open_steps() if s.bpmn_id == bpmn_id]
        return step

    def complete(self, bpmn_id: str, data: dict) -> None:
        step = self.step(bpmn_id)
        data = self.forms.get(step.form_key).load(data)
        assert runtime.reserved_keys(data) == []
        workflow = self.load()
        runtime.complete_step(workflow, step.task_id, data)
        self.save(workflow)

    def run_jobs(self, operations: FakeOperations) -> list[str]:
        """Hand every pending service step to the fake operations until none is left."""
        ran = []
        while True:
            workflow = self.load()
            jobs = runtime.pending_jobs(workflow)
            self.save(workflow)
            if not jobs:
                return ran
            for job in jobs:
                result = operations(job.operation, job.params)
                workflow = self.load()
                assert runtime.complete_service_step(workflow, job.task_id, result)
                self.save(workflow)
                ran.append(job.bpmn_id)

    def fire_timers(self) -> list[str]:
        workflow = self.load()
        fired = runtime.fire_timers(workflow)
        self.save(workflow)
        return fired

    @property
    def status(self) -> runtime.InstanceStatus:
        return runtime.status_of(self.load())

    @property
    def outcome(self) -> tuple[str, str | None] | None:
        return runtime.outcome(self.load())

    @property
    def data(self) -> dict:
        return runtime.data(self.load())

    def next_timer_due(self):
        return runtime.next_timer_due(self.load())
