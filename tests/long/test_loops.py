"""Gateway back-loops: every pass is kept, and a loop that never waits is stopped, not run forever.

SpiffWorkflow 3.2.0 walks task trees only 1000 deep; each pass of a loop nests one level per
task, so without engine/bpmn/loops.py the 334th pass of a three-task loop is dropped and the
workflow reports itself complete. Trees that deep take seconds, so these tests live in their own
tier (tests/long: no app, no database) and keep the unit tier quick.
"""

import time

import pytest
from SpiffWorkflow.util.task import TaskIterator

from engine.bpmn import loops, runtime, serializer
from engine.bpmn.runtime import InstanceStatus
from engine.errors import ProcessFailed
from tests.unit.support import parse

LOOP_BODY = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="init" name="Init" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>passes = 0</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:{kind} id="check" name="Check an item">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing>{script}
    </bpmn:{kind}>
    <bpmn:scriptTask id="count" name="Count" scriptFormat="python">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>passes = passes + 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="more" name="More?" default="f6">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:outgoing>f6</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="init" />
    <bpmn:sequenceFlow id="f2" sourceRef="init" targetRef="check" />
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="count" />
    <bpmn:sequenceFlow id="f4" sourceRef="count" targetRef="more" />
    <bpmn:sequenceFlow id="f5" sourceRef="more" targetRef="check">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f6" sourceRef="more" targetRef="end" />
"""
PASSES = 340  # > 333: the pass the library would drop


def loop(kind: str, condition: str):
    script = "<bpmn:script>checked = passes</bpmn:script>" if kind == "scriptTask" else ""
    condition = condition.replace("<", "&lt;")
    parsed = parse(LOOP_BODY.format(kind=kind, condition=condition, script=script))
    return parsed.spec, parsed.subprocess_specs


def test_a_person_can_go_round_a_loop_more_than_333_times_and_no_pass_is_dropped():
    spec, subprocess_specs = loop("userTask", f"passes < {PASSES}")
    workflow = runtime.start(spec, subprocess_specs, {})
    for done in range(PASSES):
        (step,) = runtime.open_steps(workflow)
        if done == 335:  # past the library's depth limit: storing and loading keeps the step
            workflow = serializer.loads(
                serializer.dumps(workflow), spec, subprocess_specs, runtime.SCRIPT_ENGINE
            )
            assert [s.task_id for s in runtime.open_steps(workflow)] == [step.task_id]
        runtime.complete_step(workflow, step.task_id, {})
    assert runtime.status_of(workflow) == InstanceStatus.COMPLETE
    assert runtime.data(workflow)["passes"] == PASSES


def test_a_loop_of_scripts_runs_all_its_passes_when_it_ends():
    spec, subprocess_specs = loop("scriptTask", f"passes < {PASSES}")
    workflow = runtime.start(spec, subprocess_specs, {})
    assert runtime.status_of(workflow) == InstanceStatus.COMPLETE
    assert runtime.data(workflow)["passes"] == PASSES


def test_a_loop_that_never_waits_fails_its_step_instead_of_running_forever(monkeypatch):
    monkeypatch.setattr(loops, "RUN_STEP_BUDGET", 600)
    spec, subprocess_specs = loop("scriptTask", "True")
    with pytest.raises(ProcessFailed, match="without waiting for a person") as failed:
        runtime.start(spec, subprocess_specs, {})
    assert failed.value.extra["bpmn_id"] in {"init", "check", "count", "more"}
    assert failed.value.extra["error_type"] == "RunawayRun"


class _Task:
    task_spec = None


def test_the_budget_counts_cpu_time_not_wall_clock(monkeypatch):
    monkeypatch.setattr(loops, "RUN_CPU_SECONDS_BUDGET", 0.05)
    budget = loops.RunBudget()
    time.sleep(0.2)  # waiting (a busy machine) uses no CPU of this thread
    budget.count(_Task())
    started = time.thread_time()
    while time.thread_time() - started < 0.1:  # work does
        pass
    with pytest.raises(loops.RunawayRun):
        budget.count(_Task())


def test_the_library_walks_trees_of_any_depth():
    assert TaskIterator.__init__.__defaults__[1] == loops.UNLIMITED
