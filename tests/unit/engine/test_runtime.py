"""engine.runtime: step guards, job hand-over, status, timers, outcome, assignment, data keys."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from engine.bpmn import runtime, serializer
from engine.bpmn.runtime import InstanceStatus
from engine.bpmn.specs import parse_process
from engine.errors import Conflict, NotFound, ProcessFailed
from tests.unit.support import SCRIPT_BODY, STEPS_BODY, TIMER_BODY, bpmn, parse


@pytest.fixture(scope="module")
def steps():
    return parse(STEPS_BODY)


def specs_of(parsed):
    return parsed.spec, parsed.subprocess_specs


def start(parsed, **data):
    return runtime.start(parsed.spec, parsed.subprocess_specs, data)


def user_task_body(properties: str, lane: str | None = None) -> str:
    lanes = (
        f'<bpmn:laneSet id="lanes"><bpmn:lane id="lane_1" name="{lane}">'
        "<bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
        if lane
        else ""
    )
    return f"""
    {lanes}
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review">
      <bpmn:extensionElements>
        <spiffworkflow:properties>{properties}</spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="review" targetRef="end" />
"""


def test_start_puts_data_on_start_and_runs_to_first_user_step(steps):
    workflow = start(steps, item="laptop")

    (step,) = runtime.open_steps(workflow)
    assert step.bpmn_id == "review"
    assert runtime.data(workflow) == {"item": "laptop"}


def test_new_workflow_runs_nothing(steps):
    workflow = runtime.new_workflow(steps.spec, steps.subprocess_specs, {"item": "laptop"})

    assert runtime.open_steps(workflow) == []
    assert runtime.status_of(workflow) == InstanceStatus.RUNNING


def test_open_steps_describe_step_for_the_inbox(steps):
    (step,) = runtime.open_steps(start(steps, item="laptop"))

    assert step.name == "Review"
    assert step.lane == "IT Support & Ops"
    assert step.form_key == "demo.review"
    assert step.due_in == "P2D"
    assert step.instructions == "Review {{item}}"
    assert uuid.UUID(step.task_id)


def test_open_steps_slugs_lane_name_when_no_group_is_given(steps):
    (step,) = runtime.open_steps(start(steps, item="laptop"))

    assert step.candidate_group == "it_support_ops"


def test_open_steps_evaluates_candidate_group_expression_when_given():
    parsed = parse(
        user_task_body(
            '<spiffworkflow:property name="candidate_group_expression" value="\'it_\' + region" />',
            lane="Regional IT",
        )
    )

    (step,) = runtime.open_steps(start(parsed, region="east"))

    assert step.candidate_group == "it_east"


def test_open_steps_prefers_fixed_candidate_group_when_given():
    parsed = parse(
        user_task_body(
            '<spiffworkflow:property name="candidate_group" value="service_desk" />',
            lane="Regional IT",
        )
    )

    (step,) = runtime.open_steps(start(parsed))

    assert step.candidate_group == "service_desk"


def test_open_steps_has_no_group_when_task_has_no_lane():
    parsed = parse(user_task_body('<spiffworkflow:property name="form" value="demo.review" />'))

    (step,) = runtime.open_steps(start(parsed))

    assert (step.lane, step.candidate_group) == (None, None)


def test_open_steps_fails_step_when_candidate_group_expression_fails():
    parsed = parse(
        user_task_body(
            '<spiffworkflow:property name="candidate_group_expression" value="\'it_\' + region" />'
        )
    )
    workflow = start(parsed)

    with pytest.raises(ProcessFailed) as caught:
        runtime.open_steps(workflow)

    assert caught.value.extra["bpmn_id"] == "review"


@pytest.mark.parametrize("task_id", [str(uuid.uuid4()), "not-a-uuid", ""])
def test_complete_step_raises_not_found_when_task_id_is_unknown(steps, task_id):
    workflow = start(steps, item="laptop")

    with pytest.raises(NotFound):
        runtime.complete_step(workflow, task_id, {})


def test_complete_step_raises_conflict_when_completed_twice(steps):
    workflow = start(steps, item="laptop")
    (step,) = runtime.open_steps(workflow)
    runtime.complete_step(workflow, step.task_id, {"ok": True})

    with pytest.raises(Conflict):
        runtime.complete_step(workflow, step.task_id, {"ok": False})

    assert runtime.data(workflow)["ok"] is True


def test_complete_step_raises_conflict_when_task_is_a_service_step(steps):
    workflow = start(steps, item="laptop")
    runtime.complete_step(workflow, runtime.open_steps(workflow)[0].task_id, {})
    (job,) = runtime.pending_jobs(workflow)

    with pytest.raises(Conflict):
        runtime.complete_step(workflow, job.task_id, {"notified": "forged"})

    assert runtime.status_of(workflow) == InstanceStatus.RUNNING


def test_complete_step_raises_conflict_when_task_is_not_ready_yet(steps):
    workflow = runtime.new_workflow(steps.spec, steps.subprocess_specs, {"item": "laptop"})
    future = [t for t in workflow.get_tasks() if t.task_spec.name == "review"]

    with pytest.raises(Conflict):
        runtime.complete_step(workflow, str(future[0].id), {})


def test_pending_jobs_lists_evaluated_parameters_once(steps):
    workflow = start(steps, item="laptop")
    runtime.complete_step(workflow, runtime.open_steps(workflow)[0].task_id, {})

    (job,) = runtime.pending_jobs(workflow)

    assert (job.bpmn_id, job.operation, job.params) == (
        "notify",
        "notify.im",
        {"text": "Reviewed: laptop"},
    )
    assert runtime.pending_jobs(workflow) == []


def test_complete_service_step_stores_result_and_runs_on(steps):
    workflow = start(steps, item="laptop")
    runtime.complete_step(workflow, runtime.open_steps(workflow)[0].task_id, {})
    (job,) = runtime.pending_jobs(workflow)

    assert runtime.complete_service_step(workflow, job.task_id, {"delivered": True})

    assert runtime.status_of(workflow) == InstanceStatus.COMPLETE
    assert runtime.data(workflow)["notified"] == {"delivered": True}


def test_complete_service_step_returns_false_when_result_is_delivered_twice(steps):
    workflow = start(steps, item="laptop")
    runtime.complete_step(workflow, runtime.open_steps(workflow)[0].task_id, {})
    (job,) = runtime.pending_jobs(workflow)
    runtime.complete_service_step(workflow, job.task_id, {"delivered": True})
    before = serializer.dumps(workflow)

    assert runtime.complete_service_step(workflow, job.task_id, {"delivered": False}) is False

    assert serializer.dumps(workflow) == before
    assert runtime.data(workflow)["notified"] == {"delivered": True}


def test_complete_service_step_returns_false_when_task_is_a_user_step(steps):
    workflow = start(steps, item="laptop")
    (step,) = runtime.open_steps(workflow)

    assert runtime.complete_service_step(workflow, step.task_id, {"x": 1}) is False
    assert runtime.open_steps(workflow) == [step]


def test_complete_service_step_raises_not_found_when_task_id_is_unknown(steps):
    with pytest.raises(NotFound):
        runtime.complete_service_step(start(steps, item="x"), str(uuid.uuid4()), {})


ERROR_BOUNDARY = """
    <bpmn:boundaryEvent id="notify_failed" attachedToRef="notify">
      <bpmn:outgoing>flow_4</bpmn:outgoing>
      <bpmn:errorEventDefinition id="notify_failed_error" errorRef="channel_gone" />
    </bpmn:boundaryEvent>
    <bpmn:userTask id="fix_channel" name="Fix channel">
      <bpmn:incoming>flow_4</bpmn:incoming>
      <bpmn:outgoing>flow_5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end_fixed" name="Fixed"><bpmn:incoming>flow_5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_4" sourceRef="notify_failed" targetRef="fix_channel" />
    <bpmn:sequenceFlow id="flow_5" sourceRef="fix_channel" targetRef="end_fixed" />
"""
ERROR_DEFINITION = b"""  <bpmn:error id="channel_gone" name="Channel gone" errorCode="channel_gone">
    <bpmn:extensionElements>
      <spiffworkflow:variableName>notify_error</spiffworkflow:variableName>
    </bpmn:extensionElements>
  </bpmn:error>
"""


@pytest.fixture(scope="module")
def guarded_steps():
    document = bpmn(STEPS_BODY + ERROR_BOUNDARY).replace(
        b"</bpmn:process>\n", b"</bpmn:process>\n" + ERROR_DEFINITION
    )
    return parse_process("demo", {"demo.bpmn": document})


def waiting_for_notify(parsed):
    workflow = start(parsed, item="laptop")
    runtime.complete_step(workflow, runtime.open_steps(workflow)[0].task_id, {})
    (job,) = runtime.pending_jobs(workflow)
    return workflow, job


def test_throw_error_takes_boundary_path_when_error_code_is_caught(guarded_steps):
    workflow, job = waiting_for_notify(guarded_steps)
    payload = {"code": "channel_gone", "message": "no such channel"}

    assert runtime.throw_error(workflow, job.task_id, "channel_gone", payload) is True

    assert [step.bpmn_id for step in runtime.open_steps(workflow)] == ["fix_channel"]
    assert runtime.data(workflow)["notify_error"] == payload
    assert runtime.complete_service_step(workflow, job.task_id, {}) is False


def test_throw_error_returns_false_when_no_boundary_catches_the_code(guarded_steps):
    workflow, job = waiting_for_notify(guarded_steps)

    assert runtime.throw_error(workflow, job.task_id, "quota_exceeded", {}) is False

    assert runtime.open_steps(workflow) == []
    assert runtime.complete_service_step(workflow, job.task_id, {"delivered": True})


def test_throw_error_returns_false_when_task_is_a_user_step(steps):
    workflow = start(steps, item="laptop")
    (step,) = runtime.open_steps(workflow)

    assert runtime.throw_error(workflow, step.task_id, "channel_gone", {}) is False
    assert runtime.open_steps(workflow) == [step]


def test_step_states_marks_done_and_current_steps(steps):
    workflow = start(steps, item="laptop")
    runtime.complete_step(workflow, runtime.open_steps(workflow)[0].task_id, {})

    assert runtime.step_states(workflow) == {"start": "done", "review": "done", "notify": "current"}


def test_upcoming_steps_walks_the_graph_from_current_steps(guarded_steps):
    upcoming = runtime.upcoming_steps(start(guarded_steps, item="laptop"))

    assert [step["bpmn_id"] for step in upcoming] == ["notify", "fix_channel"]
    assert upcoming[0]["kind"] == "ExternalServiceTask"


def test_status_of_is_user_input_required_when_user_step_is_open(steps):
    assert runtime.status_of(start(steps, item="x")) == InstanceStatus.USER_INPUT_REQUIRED


def test_status_of_is_running_when_service_step_waits_for_worker(steps):
    workflow = start(steps, item="x")
    runtime.complete_step(workflow, runtime.open_steps(workflow)[0].task_id, {})

    assert runtime.status_of(workflow) == InstanceStatus.RUNNING


def test_status_of_is_waiting_when_only_a_timer_is_pending():
    workflow = start(parse(TIMER_BODY.format(kind="timeDuration", expression='"PT1H"')))

    assert runtime.status_of(workflow) == InstanceStatus.WAITING


def test_status_of_is_complete_when_end_is_reached():
    workflow = start(parse(SCRIPT_BODY.format(script="total = 1 + 2")))

    assert runtime.status_of(workflow) == InstanceStatus.COMPLETE
    assert runtime.data(workflow) == {"total": 3}


def test_status_of_is_error_when_script_fails():
    workflow = runtime.new_workflow(
        *specs_of(parse(SCRIPT_BODY.format(script="total = 1 / 0"))), {}
    )

    with pytest.raises(ProcessFailed) as caught:
        runtime.run_until_blocked(workflow)

    assert caught.value.extra["bpmn_id"] == "calc"
    assert caught.value.extra["error_type"] == "ZeroDivisionError"
    assert runtime.status_of(workflow) == InstanceStatus.ERROR


def test_status_of_is_error_when_timer_expression_fails():
    parsed = parse(TIMER_BODY.format(kind="timeDate", expression="due_at"))
    workflow = runtime.new_workflow(*specs_of(parsed), {})

    with pytest.raises(ProcessFailed) as caught:
        runtime.run_until_blocked(workflow)

    assert caught.value.extra["bpmn_id"] == "wait"
    assert runtime.status_of(workflow) == InstanceStatus.ERROR


def test_next_timer_due_is_none_without_timers(steps):
    assert runtime.next_timer_due(start(steps, item="x")) is None


def test_next_timer_due_adds_duration_to_when_timer_was_armed():
    before = datetime.now(UTC)
    workflow = start(parse(TIMER_BODY.format(kind="timeDuration", expression='"PT1H"')))
    after = datetime.now(UTC)

    due = runtime.next_timer_due(workflow)

    assert before + timedelta(hours=1) <= due <= after + timedelta(hours=1)
    assert due.utcoffset() == timedelta(0)


def test_next_timer_due_reads_date_from_task_data():
    workflow = start(
        parse(TIMER_BODY.format(kind="timeDate", expression="due_at")),
        due_at="2030-01-09T09:00:00+08:00",
    )

    assert runtime.next_timer_due(workflow) == datetime(2030, 1, 9, 1, 0, tzinfo=UTC)


def test_next_timer_due_reads_next_cycle():
    before = datetime.now(UTC)
    workflow = start(parse(TIMER_BODY.format(kind="timeCycle", expression='"R3/PT2H"')))

    due = runtime.next_timer_due(workflow)

    assert before + timedelta(hours=2) <= due <= datetime.now(UTC) + timedelta(hours=2)


def test_fire_timers_names_timer_when_it_falls_due():
    parsed = parse(TIMER_BODY.format(kind="timeDate", expression="due_at"))
    workflow = start(parsed, due_at="2030-01-09T09:00:00+08:00")
    assert runtime.fire_timers(workflow) == []
    # What a wake-up after the due time sees: the armed due time lies in the past.
    armed = '"event_value": "2030-01-09T09:00:00+08:00"'
    text = serializer.document(serializer.dumps(workflow))
    assert armed in text
    text = text.replace(armed, '"event_value": "2000-01-01T00:00:00+00:00"')
    workflow = serializer.loads(text, *specs_of(parsed), runtime.SCRIPT_ENGINE)

    assert runtime.fire_timers(workflow) == ["wait"]
    assert runtime.status_of(workflow) == InstanceStatus.COMPLETE


def test_outcome_is_none_while_running(steps):
    assert runtime.outcome(start(steps, item="x")) is None


def test_outcome_is_done_when_the_end_event_names_none():
    workflow = start(parse(SCRIPT_BODY.format(script="total = 1")))

    assert runtime.outcome(workflow) == ("done", None)
    assert runtime.end_event(workflow) == "end"


OUTCOME_BODY = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="end" name="Refused">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="outcome" value="rejected" />
          <spiffworkflow:property name="outcome_reason" value="'Budget: ' + note" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_1</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="end" />
"""


def test_outcome_and_reason_are_what_the_end_event_says():
    parsed = parse(OUTCOME_BODY)

    workflow = runtime.start(parsed.spec, parsed.subprocess_specs, {"note": "frozen"})

    assert runtime.outcome(workflow) == ("rejected", "Budget: frozen")


def test_a_reason_that_cannot_be_read_leaves_the_outcome_standing():
    parsed = parse(OUTCOME_BODY)

    workflow = runtime.start(parsed.spec, parsed.subprocess_specs, {})

    assert runtime.outcome(workflow) == ("rejected", None)


@pytest.mark.parametrize(
    "key", ["days_before", "datetime", "timedelta", "open_steps", "_secret", "__builtins__"]
)
def test_reserved_keys_names_what_would_shadow_helpers(key):
    assert runtime.reserved_keys({key: 1, "comment": "fine"}) == [key]


def test_reserved_keys_names_spiff_internal_keys():
    assert runtime.reserved_keys({"spiff__result": 1, "_getattr_": 2}) == [
        "_getattr_",
        "spiff__result",
    ]


def test_reserved_keys_accepts_form_fields():
    assert runtime.reserved_keys({"start_date": "2030-01-10", "manager_comment": "ok"}) == []


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("P2D", datetime(2030, 1, 12, 8, 0, tzinfo=UTC)),
        ("PT4H", datetime(2030, 1, 10, 12, 0, tzinfo=UTC)),
        ("P1W", datetime(2030, 1, 17, 8, 0, tzinfo=UTC)),
    ],
)
def test_due_after_adds_iso_duration(duration, expected):
    assert runtime.due_after(datetime(2030, 1, 10, 8, 0, tzinfo=UTC), duration) == expected


@pytest.mark.parametrize("duration", [None, ""])
def test_due_after_is_none_without_duration(duration):
    assert runtime.due_after(datetime(2030, 1, 10, tzinfo=UTC), duration) is None


@pytest.mark.parametrize("duration", ["2 days", "soon", "PT1.5H2M"])
def test_due_after_is_none_when_duration_is_invalid(duration):
    assert runtime.due_after(datetime(2030, 1, 10, tzinfo=UTC), duration) is None
