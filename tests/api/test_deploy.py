"""Deploying BPMN as designer: checks at deploy time, versions, running instances keep theirs."""

import io
from pathlib import Path

import pytest

from engine.bpmn import loops
from tests.api.support import (
    APPROVE,
    LAPTOP,
    ONBOARDING_DATA,
    assert_problem,
    complete,
    complete_ok,
    drain,
    get_instance,
    open_task,
    row_counts,
    start,
    start_onboarding,
)
from tests.conftest import FIXTURES_DIR, PROCESSES_DIR

ONBOARDING_FILE = PROCESSES_DIR / "new_hire_onboarding" / "new_hire_onboarding.bpmn"
PWNED = Path("/tmp/flowdesk_pwned")
MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs_{key}" targetNamespace="http://flowdesk.example.org/bpmn">
  <bpmn:process id="{key}" name="Test {key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>to_step</bpmn:outgoing></bpmn:startEvent>
    {step}
    <bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_step" sourceRef="start" targetRef="{step_id}" />
    <bpmn:sequenceFlow id="to_end" sourceRef="{step_id}" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FLOWS = "<bpmn:incoming>to_step</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>"


def process(key: str, step: str, step_id: str = "step") -> bytes:
    """A start -> one step -> end process around the given step element."""
    return (
        MINIMAL.replace("{key}", key).replace("{step}", step).replace("{step_id}", step_id).encode()
    )


def script_process(key: str, script: str) -> bytes:
    return process(
        key,
        f'<bpmn:scriptTask id="step" scriptFormat="python">{FLOWS}'
        f"<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>",
    )


def onboarding_v2() -> bytes:
    """The bundled onboarding with a new catalog name and an extra script task before approval."""
    text = ONBOARDING_FILE.read_text(encoding="utf-8")
    replacements = {
        '<spiffworkflow:property name="name_en" value="New-hire IT onboarding" />': (
            '<spiffworkflow:property name="name_en" value="New-hire IT onboarding (v2)" />'
        ),
        '<bpmn:sequenceFlow id="flow_to_approval" sourceRef="plan_onboarding" '
        'targetRef="manager_approval" />': (
            '<bpmn:sequenceFlow id="flow_to_approval" sourceRef="plan_onboarding" '
            'targetRef="welcome_pack" />\n'
            '    <bpmn:scriptTask id="welcome_pack" name="Pick welcome pack" scriptFormat="python">'
            "<bpmn:incoming>flow_to_approval</bpmn:incoming>"
            "<bpmn:outgoing>flow_to_approval_v2</bpmn:outgoing>"
            '<bpmn:script>welcome_pack = "v2-" + department</bpmn:script></bpmn:scriptTask>\n'
            '    <bpmn:sequenceFlow id="flow_to_approval_v2" sourceRef="welcome_pack" '
            'targetRef="manager_approval" />'
        ),
        "<bpmn:incoming>flow_to_approval</bpmn:incoming>\n": (
            "<bpmn:incoming>flow_to_approval_v2</bpmn:incoming>\n"
        ),
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.encode("utf-8")


def deploy(api, key: str, content: bytes, filename: str | None = None):
    """POST raw XML (or, with filename, a multipart 'file' field) as a new version of key."""
    url = f"/api/v1/processes/{key}/versions"
    if filename:
        return api.post(
            url,
            data={"file": (io.BytesIO(content), filename)},
            content_type="multipart/form-data",
        )
    return api.post(url, data=content, content_type="application/xml")


def assert_refused(app, api, key: str, content: bytes, **kwargs) -> dict:
    """Deploy must answer 422 invalid_process and add no row anywhere."""
    before = row_counts(app)
    body = assert_problem(deploy(api, key, content, **kwargs), 422, "invalid_process")
    assert body["problems"], body
    assert row_counts(app) == before
    return body


def test_requester_cannot_deploy(app, as_user):
    before = row_counts(app)
    response = deploy(as_user("requester"), "demo_process", script_process("demo_process", "x = 1"))
    assert_problem(response, 403, "forbidden")
    assert row_counts(app) == before


def test_designer_deploys_a_new_process(as_user):
    designer = as_user("designer")

    response = deploy(designer, "demo_process", script_process("demo_process", "x = 1"))

    assert response.status_code == 201
    body = response.get_json()
    assert body["process_key"] == "demo_process"
    assert body["version"] == 1
    assert body["is_bundled"] is False
    assert body["name"] == "Test demo_process"
    assert response.headers["Location"] == "/api/v1/processes/demo_process/versions/1"
    detail = designer.get("/api/v1/processes/demo_process/versions/1").get_json()
    assert "x = 1" in detail["files"]["demo_process.bpmn"]
    started = start(designer, "demo_process", {})
    assert started.status_code == 201
    assert started.get_json()["status"] == "complete"


def test_admin_may_deploy(as_user):
    response = deploy(as_user("admin"), "demo_process", script_process("demo_process", "x = 1"))
    assert response.status_code == 201


def test_malformed_xml_is_refused_with_file_and_line(app, as_user):
    content = script_process("demo_process", "x = 1").replace(b"</bpmn:process>", b"</bpmn:proc>")

    body = assert_refused(app, as_user("designer"), "demo_process", content, filename="demo.bpmn")

    problem = body["problems"][0]
    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == 11
    assert "malformed XML" in problem["message"]
    assert "demo.bpmn:11" in body["detail"]


def test_bpmn_that_breaks_the_schema_is_refused_with_line(app, as_user):
    content = process("demo_process", f'<bpmn:task id="step" colour="red">{FLOWS}</bpmn:task>')
    body = assert_refused(app, as_user("designer"), "demo_process", content)
    problem = body["problems"][0]
    assert (problem["file"], problem["line"], problem["id"]) == ("demo_process.bpmn", 7, "step")
    assert "colour" in problem["message"]


def test_call_activity_to_unknown_process_is_refused_naming_the_call_activity(app, as_user):
    content = process(
        "demo_process",
        f'<bpmn:callActivity id="call_payroll" calledElement="payroll_setup">{FLOWS}'
        "</bpmn:callActivity>",
        step_id="call_payroll",
    )

    body = assert_refused(app, as_user("designer"), "demo_process", content)

    problem = body["problems"][0]
    assert problem["id"] == "call_payroll"
    assert problem["file"] == "demo_process.bpmn"
    assert problem["line"] == 7
    assert "payroll_setup" in problem["message"]


def test_unknown_form_key_is_refused(app, as_user):
    content = process(
        "demo_process",
        '<bpmn:userTask id="step"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="form" value="demo_process.no_such_form" />'
        f"</spiffworkflow:properties></bpmn:extensionElements>{FLOWS}</bpmn:userTask>",
    )

    body = assert_refused(app, as_user("designer"), "demo_process", content)

    assert body["problems"][0]["id"] == "demo_process.no_such_form"
    assert "demo_process.no_such_form" in body["detail"]


def test_unknown_operation_is_refused(app, as_user):
    content = process(
        "demo_process",
        '<bpmn:serviceTask id="step"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator id="payroll.create_employee" resultVariable="r">'
        "<spiffworkflow:parameters /></spiffworkflow:serviceTaskOperator>"
        f"</bpmn:extensionElements>{FLOWS}</bpmn:serviceTask>",
    )

    body = assert_refused(app, as_user("designer"), "demo_process", content)

    assert body["problems"][0]["id"] == "payroll.create_employee"


def test_file_whose_process_id_differs_from_the_key_is_refused(app, as_user):
    content = script_process("other_process", "x = 1")
    body = assert_refused(app, as_user("designer"), "demo_process", content)
    assert "other_process" in body["problems"][0]["message"]


def test_invalid_key_empty_body_and_non_bpmn_upload_are_422(app, as_user):
    designer = as_user("designer")
    before = row_counts(app)
    content = script_process("demo_process", "x = 1")

    bad_key = deploy(designer, "Demo-Process", content)
    empty = designer.post("/api/v1/processes/demo_process/versions", data=b"")
    not_bpmn = deploy(designer, "demo_process", content, filename="demo.txt")

    assert "key" in assert_problem(bad_key, 422, "invalid_input")["errors"]
    assert "file" in assert_problem(empty, 422, "invalid_input")["errors"]
    assert "file" in assert_problem(not_bpmn, 422, "invalid_input")["errors"]
    assert row_counts(app) == before


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("__import__('os').system('touch /tmp/flowdesk_pwned')", "__import__"),
        ("import os\nos.system('touch /tmp/flowdesk_pwned')", "import"),
        ("x = ().__class__.__base__.__subclasses__()", "__class__"),
        ("open('/tmp/flowdesk_pwned', 'w')", "'open' is not available in the script sandbox"),
    ],
    ids=["dunder-import", "import-statement", "dunder-attribute", "open"],
)
def test_script_reaching_the_os_is_refused_at_deploy_time_or_cannot_run(
    app, as_user, script, message
):
    PWNED.unlink(missing_ok=True)
    designer = as_user("designer")
    content = script_process("demo_process", script)

    if message is None:  # compiles, but the sandbox has no open(): the instance fails instead
        assert deploy(designer, "demo_process", content).status_code == 201
        started = start(designer, "demo_process", {}).get_json()
        assert started["status"] == "error"
        history = designer.get(f"/api/v1/instances/{started['id']}").get_json()["events"]
        assert [e["bpmn_id"] for e in history if e["kind"] == "failed"] == ["step"]
    else:
        body = assert_refused(app, designer, "demo_process", content)
        problem = body["problems"][0]
        assert problem["id"] == "step"
        assert problem["line"] == 7
        assert message in problem["message"]
        assert_problem(start(designer, "demo_process", {}), 404, "not_found")
    assert not PWNED.exists()


@pytest.mark.parametrize(
    ("script", "error_type"),
    [("x = 1 / 0", "ZeroDivisionError"), ("x = undefined_name", "NameError")],
)
def test_script_failing_at_run_time_puts_the_instance_in_error(as_user, script, error_type):
    designer = as_user("designer")
    assert (
        deploy(designer, "demo_process", script_process("demo_process", script)).status_code == 201
    )

    response = start(designer, "demo_process", {})

    assert response.status_code == 201
    body = get_instance(designer, response.get_json()["id"])
    assert body["status"] == "error"
    assert body["open_tasks"] == []
    failed = [e for e in body["events"] if e["kind"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["bpmn_id"] == "step"
    assert failed[0]["payload"]["error_type"] == error_type
    assert "step" in failed[0]["payload"]["error"]


def test_a_loop_that_never_waits_puts_the_instance_in_error_instead_of_hanging(
    as_user, monkeypatch
):
    monkeypatch.setattr(loops, "RUN_STEP_BUDGET", 300)  # the real one takes ~8 s to reach
    designer = as_user("designer")
    endless = MINIMAL.replace(
        '<bpmn:sequenceFlow id="to_end" sourceRef="{step_id}" targetRef="end" />',
        '<bpmn:exclusiveGateway id="again" default="to_end"><bpmn:incoming>to_gw</bpmn:incoming>'
        "<bpmn:outgoing>to_end</bpmn:outgoing><bpmn:outgoing>back</bpmn:outgoing>"
        "</bpmn:exclusiveGateway>"
        '<bpmn:sequenceFlow id="to_gw" sourceRef="step" targetRef="again" />'
        '<bpmn:sequenceFlow id="to_end" sourceRef="again" targetRef="end" />'
        '<bpmn:sequenceFlow id="back" sourceRef="again" targetRef="step">'
        "<bpmn:conditionExpression>True</bpmn:conditionExpression></bpmn:sequenceFlow>",
    )
    step = (
        '<bpmn:scriptTask id="step" scriptFormat="python"><bpmn:incoming>to_step</bpmn:incoming>'
        "<bpmn:incoming>back</bpmn:incoming><bpmn:outgoing>to_gw</bpmn:outgoing>"
        "<bpmn:script>turns = 1</bpmn:script></bpmn:scriptTask>"
    )
    content = endless.replace("{key}", "demo_process").replace("{step_id}", "step")
    content = content.replace("{step}", step).encode()
    deployed = deploy(designer, "demo_process", content)
    assert deployed.status_code == 201, deployed.get_data(as_text=True)

    response = start(designer, "demo_process", {})

    assert response.status_code == 201
    body = get_instance(designer, response.get_json()["id"])
    assert body["status"] == "error"
    (failed,) = [e for e in body["events"] if e["kind"] == "failed"]
    assert failed["payload"]["error_type"] == "RunawayRun"
    assert "endless loop" in failed["payload"]["error"]


def test_multipart_upload_with_a_called_process_in_a_second_file(as_user):
    designer = as_user("designer")
    main = process(
        "demo_process",
        f'<bpmn:callActivity id="call_sub" calledElement="demo_sub">{FLOWS}</bpmn:callActivity>',
        step_id="call_sub",
    )
    sub = script_process("demo_sub", "greeting = 'hello from ' + 'demo_sub'")

    response = designer.post(
        "/api/v1/processes/demo_process/versions",
        data={"file": [(io.BytesIO(main), "main.bpmn"), (io.BytesIO(sub), "sub.bpmn")]},
        content_type="multipart/form-data",
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    files = designer.get("/api/v1/processes/demo_process/versions/1").get_json()["files"]
    assert set(files) == {"main.bpmn", "sub.bpmn"}
    started = start(designer, "demo_process", {}).get_json()
    assert started["status"] == "complete"
    assert started["data"]["greeting"] == "hello from demo_sub"


CAMUNDA_START_FORM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs_cs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="camunda_start" name="Laptop request" isExecutable="true">
    <bpmn:startEvent id="start">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="reason" label="Reason" type="string">
            <camunda:validation><camunda:constraint name="required" config="true" />
            <camunda:constraint name="maxlength" config="20" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="count" label="How many" type="long" />
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_camunda_start_form_is_the_offerings_start_form(app, as_user):
    designer = as_user("designer")
    assert deploy(designer, "camunda_start", CAMUNDA_START_FORM).status_code == 201

    offering = designer.get("/api/v1/offerings/camunda_start").get_json()
    assert offering["start_form"] == "embedded:start"
    assert offering["start_form_definition"]["schema"]["required"] == ["reason"]

    before = row_counts(app)
    too_long = start(designer, "camunda_start", {"reason": "x" * 21})
    wrong_type = start(designer, "camunda_start", {"reason": "new hire", "count": "two"})
    assert "reason" in assert_problem(too_long, 422, "invalid_input")["errors"]
    assert "count" in assert_problem(wrong_type, 422, "invalid_input")["errors"]
    assert row_counts(app) == before

    started = start(designer, "camunda_start", {"reason": "new hire", "count": 2}).get_json()
    assert started["status"] == "complete"
    assert started["data"]["count"] == 2


def test_identical_upload_returns_the_same_version(app, as_user):
    designer = as_user("designer")
    content = ONBOARDING_FILE.read_bytes()
    before = row_counts(app)

    response = deploy(designer, "new_hire_onboarding", content, filename="new_hire_onboarding.bpmn")

    assert response.status_code == 200
    assert response.get_json()["version"] == 1
    assert response.get_json()["is_bundled"] is True
    assert row_counts(app) == before
    again = deploy(designer, "demo_process", script_process("demo_process", "x = 1"))
    assert again.status_code == 201
    assert (
        deploy(designer, "demo_process", script_process("demo_process", "x = 1")).status_code == 200
    )


def test_identical_xml_as_raw_body_returns_the_same_version(app, as_user):
    # the same bytes as the bundled file; only the (synthetic) file name differs
    before = row_counts(app)

    response = deploy(as_user("designer"), "new_hire_onboarding", ONBOARDING_FILE.read_bytes())

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["version"] == 1
    assert row_counts(app) == before


def test_changed_onboarding_becomes_version_2_and_running_instances_keep_version_1(app, as_user):
    hr, designer = as_user("hr"), as_user("designer")
    old = start_onboarding(hr)
    assert old["process_version"] == 1

    response = deploy(
        designer, "new_hire_onboarding", onboarding_v2(), filename="new_hire_onboarding.bpmn"
    )

    assert response.status_code == 201
    assert response.get_json()["version"] == 2
    assert response.get_json()["name"] == "New-hire IT onboarding (v2)"
    catalog = hr.get("/api/v1/offerings/new_hire_onboarding").get_json()
    assert catalog["version"] == 2
    assert catalog["name"]["en"] == "New-hire IT onboarding (v2)"

    new = start_onboarding(hr, username="li.na")
    assert new["process_version"] == 2
    assert new["data"]["welcome_pack"] == "v2-engineering"

    # the v1 instance runs to its end on v1
    complete_ok(as_user("manager"), open_task(old, "manager_approval")["task_id"], APPROVE)
    drain(app)
    laptop = open_task(get_instance(hr, old["id"]), "prepare_laptop")
    complete_ok(as_user("it_agent"), laptop["task_id"], LAPTOP)
    drain(app)
    finished = get_instance(hr, old["id"])
    assert finished["status"] == "complete"
    assert finished["outcome"] == "done"
    assert finished["process_version"] == 1
    assert "welcome_pack" not in finished["data"]
    assert get_instance(hr, new["id"])["process_version"] == 2


def test_versions_are_listed_newest_first(as_user):
    designer = as_user("designer")
    deploy(designer, "new_hire_onboarding", onboarding_v2(), filename="new_hire_onboarding.bpmn")

    response = designer.get("/api/v1/processes")

    assert response.status_code == 200
    listed = [(v["process_key"], v["version"]) for v in response.get_json()]
    assert listed == [
        ("new_hire_onboarding", 2),
        ("new_hire_onboarding", 1),
        ("store_opening_it_readiness", 1),
    ]
    assert_problem(
        designer.get("/api/v1/processes/new_hire_onboarding/versions/9"), 404, "not_found"
    )


def test_camunda_form_process_deploys_and_validates_its_embedded_form(app, as_user):
    designer, admin = as_user("designer"), as_user("admin")
    content = (FIXTURES_DIR / "camunda_form.bpmn").read_bytes()
    assert (
        deploy(designer, "camunda_form", content, filename="camunda_form.bpmn").status_code == 201
    )

    started = start(designer, "camunda_form", {})
    assert started.status_code == 201
    instance = started.get_json()
    assert instance["status"] == "user_input_required"
    task = open_task(instance, "ask")
    assert task["form_key"] == "embedded:ask"

    detail = admin.get(f"/api/v1/tasks/{task['task_id']}")
    assert detail.status_code == 200
    form = detail.get_json()["form"]
    assert form["schema"]["required"] == ["first_name"]
    assert form["schema"]["properties"]["laptop"]["enum"] == ["mac", "tp"]
    assert form["ui"]["fields"]["first_name"]["label"]["en"] == "First name"

    before = row_counts(app)
    missing = complete(admin, task["task_id"], {"laptop": "mac"})
    assert assert_problem(missing, 422, "invalid_input")["errors"] == {
        "first_name": ["This field is required."]
    }
    bad_choice = complete(admin, task["task_id"], {"first_name": "Wei", "laptop": "abacus"})
    assert "laptop" in assert_problem(bad_choice, 422, "invalid_input")["errors"]
    assert row_counts(app) == before

    done = complete_ok(admin, task["task_id"], {"first_name": "Wei", "laptop": "tp"})
    assert done["status"] == "complete"
    assert done["data"]["first_name"] == "Wei"
    assert done["data"]["laptop"] == "tp"


def test_a_start_form_takes_only_its_fields(as_user):
    # a process without a start form takes no start data
    designer = as_user("designer")
    deploy(designer, "demo_process", script_process("demo_process", "x = 1"))
    response = start(designer, "demo_process", {"first_name": "Wei"})
    assert "first_name" in assert_problem(response, 422, "invalid_input")["errors"]
    assert start(designer, "new_hire_onboarding", ONBOARDING_DATA).status_code == 201
