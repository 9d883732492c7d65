"""No 500s: a library error inside a step fails that step with its message, marks the request
failed, lists it among the failed steps, and a retry runs it again once the cause is fixed."""

import pytest

from tests.api.support import assert_problem, complete, drain, get_instance, start
from tests.api.test_deploy import deploy

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="http://flowdesk.example.org/bpmn">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="setup"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{setup}</bpmn:script></bpmn:scriptTask>
    {step}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="setup" />
    <bpmn:sequenceFlow id="f2" sourceRef="setup" targetRef="step" />
    <bpmn:sequenceFlow id="f3" sourceRef="step" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FLOWS = "<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>"
PERSON = "manager"  # a step without a lane or group: an admin works it


def model(setup: str, step: str) -> bytes:
    return (
        HEAD.replace("{key}", "faulty").replace("{setup}", setup).replace("{step}", step).encode()
    )


# cause -> (model, completes a person's step first, the message, the correction)
CAUSES = {
    "post_script": (
        model(
            "x = 1",
            '<bpmn:userTask id="step"><bpmn:extensionElements><spiffworkflow:postScript>'
            "note = reason.upper()</spiffworkflow:postScript></bpmn:extensionElements>"
            f"{FLOWS}</bpmn:userTask>",
        ),
        True,
        "name 'reason' is not defined",
        {"reason": "late"},
    ),
    "data_object": (
        model(
            "x = 1",
            '<bpmn:dataObject id="note_obj" />'
            '<bpmn:dataObjectReference id="note_ref" dataObjectRef="note_obj" />'
            f'<bpmn:userTask id="step">{FLOWS}<bpmn:dataOutputAssociation id="out">'
            "<bpmn:targetRef>note_ref</bpmn:targetRef></bpmn:dataOutputAssociation>"
            "</bpmn:userTask>",
        ),
        True,
        "A data object could not be set",
        {"note_obj": "written"},
    ),
    "multi_instance_merge": (
        model(
            "items = [1, 2]\nresults = 'text'",
            f'<bpmn:scriptTask id="step">{FLOWS}<bpmn:multiInstanceLoopCharacteristics>'
            "<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>"
            "<bpmn:loopDataOutputRef>results</bpmn:loopDataOutputRef>"
            '<bpmn:inputDataItem id="item" name="item" />'
            '<bpmn:outputDataItem id="result" name="result" />'
            "</bpmn:multiInstanceLoopCharacteristics>"
            "<bpmn:script>result = item * 2</bpmn:script></bpmn:scriptTask>",
        ),
        False,
        "Only a mutable map (dict) or sequence (list) can be used for output",
        {"results": []},
    ),
    "multi_instance_type_error": (
        model(
            "items = 5",
            f'<bpmn:scriptTask id="step">{FLOWS}<bpmn:multiInstanceLoopCharacteristics>'
            "<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>"
            '<bpmn:inputDataItem id="item" name="item" />'
            "</bpmn:multiInstanceLoopCharacteristics>"
            "<bpmn:script>seen = item</bpmn:script></bpmn:scriptTask>",
        ),
        False,
        "TypeError: 'int' object is not iterable",
        {"items": [1, 2]},
    ),
    "timer_type_error": (
        model(
            "delay = 5",
            f'<bpmn:intermediateCatchEvent id="step">{FLOWS}<bpmn:timerEventDefinition id="t">'
            "<bpmn:timeDuration>delay</bpmn:timeDuration></bpmn:timerEventDefinition>"
            "</bpmn:intermediateCatchEvent>",
        ),
        False,
        "AttributeError: 'int' object has no attribute 'lower'",
        {"delay": "PT0S"},
    ),
}


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_a_library_error_fails_the_step_and_a_retry_runs_it_after_the_fix(app, as_user, cause):
    content, by_person, message, correction = CAUSES[cause]
    designer, admin = as_user("designer"), as_user("admin")
    assert deploy(designer, "faulty", content).status_code == 201
    started = start(as_user("requester"), "faulty", {})
    assert started.status_code == 201, started.get_data(as_text=True)
    instance_id = started.get_json()["id"]
    if by_person:
        (task,) = get_instance(admin, instance_id)["open_tasks"]
        answer = complete(admin, task["task_id"], {})
        assert answer.status_code == 202, answer.get_data(as_text=True)

    instance = get_instance(admin, instance_id)
    assert instance["status"] == "error"
    failure = [e for e in instance["events"] if e["kind"] == "failed"][-1]
    assert failure["bpmn_id"] == "step" and message in failure["payload"]["error"]
    (failed,) = admin.get("/api/v1/failed-steps").get_json()["items"]
    assert (failed["instance_id"], failed["bpmn_id"], failed["kind"]) == (
        instance_id,
        "step",
        "step",
    )
    assert message in failed["error"]
    skip = admin.post("/api/v1/failed-steps/skip", json={"ids": [failed["id"]], "result": {}})
    assert skip.get_json()[0]["outcome"] == "conflict"

    corrected = admin.post(
        f"/api/v1/failed-steps/{failed['id']}/correct", json={"changes": correction}
    )
    assert corrected.status_code == 200, corrected.get_data(as_text=True)
    if by_person:  # the person's step opens again, and now completes
        (task,) = get_instance(admin, instance_id)["open_tasks"]
        assert complete(admin, task["task_id"], {}).status_code == 202
    drain(app)

    instance = get_instance(admin, instance_id)
    assert instance["status"] == "complete", instance["events"]
    assert admin.get("/api/v1/failed-steps").get_json()["items"] == []
    kinds = [e["kind"] for e in instance["events"]]
    assert "step_corrected" in kinds


def test_a_retry_before_the_fix_fails_the_step_again_and_lists_it_once(as_user):
    content = CAUSES["multi_instance_type_error"][0]
    assert deploy(as_user("designer"), "faulty", content).status_code == 201
    instance_id = start(as_user("requester"), "faulty", {}).get_json()["id"]
    admin = as_user("admin")
    (failed,) = admin.get("/api/v1/failed-steps").get_json()["items"]

    again = admin.post("/api/v1/failed-steps/retry", json={"ids": [failed["id"]]}).get_json()

    assert again[0]["outcome"] == "ok"
    instance = get_instance(admin, instance_id)
    assert instance["status"] == "error"
    assert [e["kind"] for e in instance["events"]][-2:] == ["step_retried", "failed"]
    (still,) = admin.get("/api/v1/failed-steps").get_json()["items"]
    assert still["id"] != failed["id"] and still["bpmn_id"] == "step"


def test_a_failed_step_is_not_a_server_error_for_the_person_completing_it(as_user):
    content = CAUSES["post_script"][0]
    assert deploy(as_user("designer"), "faulty", content).status_code == 201
    instance_id = start(as_user("requester"), "faulty", {}).get_json()["id"]
    admin = as_user("admin")
    (task,) = get_instance(admin, instance_id)["open_tasks"]

    answer = complete(admin, task["task_id"], {})

    assert answer.status_code == 202 and answer.get_json()["status"] == "error"
    assert_problem(complete(admin, task["task_id"], {}), 409, "conflict")
