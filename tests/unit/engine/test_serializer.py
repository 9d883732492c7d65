"""engine.serializer: instances stored without their spec, specs stored once per version."""

import json
from datetime import UTC, datetime

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter

from engine.bpmn import runtime, serializer
from engine.bpmn.runtime import InstanceStatus
from engine.bpmn.specs import ExternalServiceTask

REQUESTED_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
ONBOARDING = {
    "first_name": "Wei",
    "last_name": "Zhang",
    "username": "wei.zhang",
    "personal_email": "wei@example.com",
    "department": "engineering",
    "role": "Backend engineer",
    "start_date": "2099-06-01",
    "employment_type": "employee",
    "location": "shanghai",
    "requested_at": REQUESTED_AT,
}

READINESS = {
    "network_line": {"line_provider": "china_telecom", "line_id": "CT-1", "bandwidth_mbps": 200},
    "pos_setup": {"pos_terminals": 4, "pos_tested": True},
    "cctv_setup": {"cameras": 12, "recorder_serial": "DS-1"},
}


def started(parsed):
    return runtime.start(parsed.spec, parsed.subprocess_specs, dict(ONBOARDING))


def reload(text, parsed):
    return serializer.loads(text, parsed.spec, parsed.subprocess_specs, runtime.SCRIPT_ENGINE)


def full_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[ExternalServiceTask] = ServiceTaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def test_loads_restores_open_steps_and_data_when_dumped_while_waiting(library):
    parsed = library.get("new_hire_onboarding")
    workflow = started(parsed)

    restored = reload(serializer.dumps(workflow), parsed)

    assert runtime.open_steps(restored) == runtime.open_steps(workflow)
    assert runtime.status_of(restored) == InstanceStatus.USER_INPUT_REQUIRED
    assert runtime.data(restored) == runtime.data(workflow)
    assert runtime.data(restored)["full_name"] == "Wei Zhang"


def test_loads_restores_datetime_in_task_data(library):
    parsed = library.get("new_hire_onboarding")

    restored = reload(serializer.dumps(started(parsed)), parsed)

    assert runtime.data(restored)["requested_at"] == REQUESTED_AT


def test_loads_keeps_handed_over_jobs_and_armed_timers(library):
    parsed = library.get("new_hire_onboarding")
    workflow = started(parsed)
    runtime.complete_step(
        workflow, runtime.open_steps(workflow)[0].task_id, {"manager_approved": True}
    )
    (job,) = runtime.pending_jobs(workflow)

    restored = reload(serializer.dumps(workflow), parsed)

    assert runtime.pending_jobs(restored) == []
    assert runtime.status_of(restored) == InstanceStatus.USER_INPUT_REQUIRED
    assert runtime.next_timer_due(restored) == runtime.next_timer_due(workflow)
    assert runtime.complete_service_step(restored, job.task_id, {"email": "wei@example.com"})


def test_dumps_leaves_spec_out_of_stored_json(library):
    parsed = library.get("new_hire_onboarding")
    workflow = started(parsed)

    stored = serializer.dumps(workflow)
    text = serializer.document(stored)

    assert "spec" not in json.loads(text)
    assert "laptop_reminder_at = days_before" not in text
    assert "new_hire_onboarding.manager_approval" not in text
    assert json.loads(text)["serializer_version"] == serializer.FORMAT_VERSION
    assert len(text) * 3 < len(full_serializer().serialize_json(workflow))
    assert len(stored) * 3 < len(text)  # deflated


def test_load_specs_restores_specs_that_run_a_stored_instance_to_the_end(library):
    parsed = library.get("store_opening_it_readiness")
    spec, subprocess_specs = serializer.load_specs(
        serializer.dump_specs(parsed.spec, parsed.subprocess_specs)
    )
    data = {
        "store_id": "S0123",
        "store_name": "Chengdu Taikoo Li",
        "region": "west",
        "address": "1 Zhongshamao Street",
        "opening_date": "2099-06-01",
    }
    text = serializer.dumps(runtime.start(parsed.spec, parsed.subprocess_specs, data))

    workflow = serializer.loads(text, spec, subprocess_specs, runtime.SCRIPT_ENGINE)
    runtime.complete_step(
        workflow, runtime.open_steps(workflow)[0].task_id, {"plan_approved": True}
    )
    for step in runtime.open_steps(workflow):
        runtime.complete_step(workflow, step.task_id, READINESS[step.bpmn_id])
        workflow = serializer.loads(
            serializer.dumps(workflow), spec, subprocess_specs, runtime.SCRIPT_ENGINE
        )
    (job,) = runtime.pending_jobs(workflow)
    runtime.complete_service_step(workflow, job.task_id, {"delivered": True})

    assert spec is not parsed.spec
    assert sorted(subprocess_specs) == sorted(parsed.subprocess_specs)
    assert job.bpmn_id == "announce_ready"
    assert runtime.status_of(workflow) == InstanceStatus.COMPLETE
    assert runtime.outcome(workflow) == ("done", None)


def test_dump_specs_is_json_text_stable_across_reload(library):
    parsed = library.get("new_hire_onboarding")
    text = serializer.dump_specs(parsed.spec, parsed.subprocess_specs)

    assert serializer.dump_specs(*serializer.load_specs(text)) == text
