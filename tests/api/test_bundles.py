"""The offering bundle is the deploy unit: forms are versioned with their BPMN, and every deploy
path (sync, API, CLI) runs the same checks."""

import io
import json
import re
import shutil

from api.app import sync_bundled
from engine.db import db
from tests.api.conftest import make_app
from tests.api.support import (
    APPROVE,
    Api,
    assert_problem,
    complete,
    complete_ok,
    open_task,
    row_counts,
    start_onboarding,
)
from tests.conftest import PROCESSES_DIR

APPROVAL_FORM = "new_hire_onboarding/forms/manager_approval.json"
BROKEN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="http://flowdesk.example.org/bpmn">
  <bpmn:process id="broken_offering" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="ask" name="Ask">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="broken_offering.missing" />
        <spiffworkflow:property name="decision" value="approved" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:serviceTask id="call" name="Call">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="nowhere.to_be_found" resultVariable="r">
          <spiffworkflow:parameters />
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="call" />
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _with_cost_centre(folder) -> None:
    """Edit only the approval form of the onboarding bundle: a required cost centre."""
    path = folder / APPROVAL_FORM
    form = json.loads(path.read_text(encoding="utf-8"))
    form["schema"]["properties"]["cost_centre"] = {"type": "string", "pattern": "^CC-[0-9]{4}$"}
    form["schema"]["required"].append("cost_centre")
    form["ui"]["order"].append("cost_centre")
    form["ui"]["fields"]["cost_centre"] = {"label": {"en": "Cost centre", "zh": "成本中心"}}
    path.write_text(json.dumps(form, ensure_ascii=False, indent=2), encoding="utf-8")


def test_editing_only_a_form_makes_a_version_and_each_request_keeps_its_own(
    database, tmp_path, app, as_user
):
    hr, manager = as_user("hr"), as_user("manager")
    old = start_onboarding(hr)
    library = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, library)
    _with_cost_centre(library)

    synced = make_app(database, PROCESSES_DIR=str(library))
    created = sync_bundled(synced)
    assert [(v.process_key, v.version) for v in created] == [("new_hire_onboarding", 2)]
    with synced.app_context():
        db.session.remove()
        db.engine.dispose()

    new = start_onboarding(hr, username="li.na")
    assert (old["process_version"], new["process_version"]) == (1, 2)
    old_task = open_task(old, "manager_approval")["task_id"]
    new_task = open_task(new, "manager_approval")["task_id"]
    old_form = manager.get(f"/api/v1/tasks/{old_task}").get_json()["form"]
    new_form = manager.get(f"/api/v1/tasks/{new_task}").get_json()["form"]
    assert "cost_centre" not in old_form["schema"]["properties"]
    assert "cost_centre" in new_form["schema"]["required"]

    refused = assert_problem(complete(manager, new_task, APPROVE), 422, "invalid_input")
    assert refused["errors"] == {"cost_centre": ["This field is required."]}
    assert complete(manager, old_task, {**APPROVE, "cost_centre": "CC-0001"}).status_code == 422
    complete_ok(manager, old_task, APPROVE)  # v1's form, as when the request started
    complete_ok(manager, new_task, {**APPROVE, "cost_centre": "CC-0042"})


def test_identical_bundles_sync_to_no_new_version(app):
    assert sync_bundled(app) == []


def _cli_problems(app, *paths) -> tuple[int, list[str]]:
    result = app.test_cli_runner().invoke(args=["flowdesk", "deploy", "broken_offering", *paths])
    lines = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    return result.exit_code, lines


def _as_cli_line(problem: dict) -> str:
    where = ":".join(str(p) for p in (problem["file"], problem["line"]) if p)
    return f"{where or '-'} [{problem['id'] or '-'}] {problem['message']}"


def test_the_cli_and_the_api_refuse_a_broken_bundle_with_the_same_problems(app, as_user, tmp_path):
    path = tmp_path / "broken_offering.bpmn"
    path.write_bytes(BROKEN)
    before = row_counts(app)

    response = as_user("designer").post(
        "/api/v1/processes/broken_offering/versions",
        data={"file": (io.BytesIO(BROKEN), "broken_offering.bpmn")},
        content_type="multipart/form-data",
    )
    api_problems = assert_problem(response, 422, "invalid_process")["problems"]
    exit_code, cli_lines = _cli_problems(app, str(path))

    messages = " | ".join(p["message"] for p in api_problems)
    assert "unknown form 'broken_offering.missing'" in messages
    assert "unknown operation 'nowhere.to_be_found'" in messages
    assert re.search(r"decision 'approved' must be a boolean field", messages)
    assert exit_code == 1
    assert cli_lines == [_as_cli_line(p) for p in api_problems]
    assert row_counts(app) == before


def test_a_form_file_that_is_not_a_form_is_refused_by_name(app, as_user):
    designer = as_user("designer")
    response = designer.post(
        "/api/v1/processes/new_hire_onboarding/versions",
        data={"file": [(io.BytesIO(b"{not json"), "request.json")]},
        content_type="multipart/form-data",
    )

    (problem,) = assert_problem(response, 422, "invalid_process")["problems"]
    assert problem["file"] == "forms/request.json"
    assert problem["message"].startswith("not JSON")


def test_deploying_only_a_form_makes_a_version_with_the_latest_bpmn(app, as_user):
    designer: Api = as_user("designer")
    form = json.loads((PROCESSES_DIR / APPROVAL_FORM).read_text(encoding="utf-8"))
    form["title"]["en"] = "Approve the new hire"
    body = json.dumps(form).encode()

    response = designer.post(
        "/api/v1/processes/new_hire_onboarding/versions",
        data={"file": [(io.BytesIO(body), "manager_approval.json")]},
        content_type="multipart/form-data",
    )

    assert response.status_code == 201, response.get_json()
    version = designer.get("/api/v1/processes/new_hire_onboarding/versions/2").get_json()
    assert version["forms"]["new_hire_onboarding.manager_approval"]["title"]["en"] == (
        "Approve the new hire"
    )
    assert sorted(version["forms"]) == sorted(
        f"new_hire_onboarding.{p.stem}"
        for p in (PROCESSES_DIR / "new_hire_onboarding/forms").glob("*.json")
    )
    assert list(version["files"]) == ["new_hire_onboarding.bpmn"]
