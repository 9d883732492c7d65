"""The holes an attacker found, each shut: a test per hole, through the API."""

import io
import json
import time

import pytest
from sqlalchemy import select

from engine.automation import service as automation
from engine.db import db
from engine.instances import attachments, service
from engine.instances.models import Attachment
from tests.api.conftest import make_app
from tests.api.support import (
    ONBOARDING_DATA,
    assert_problem,
    get_instance,
    open_task,
    row_counts,
    start,
    start_onboarding,
)
from tests.api.test_deploy import deploy, process, script_process

PDF = b"%PDF-1.4\n%%EOF\n"


def _upload(api, name="plan.pdf") -> dict:
    response = api.post(
        "/api/v1/instances/attachments",
        data={"file": (io.BytesIO(PDF), name, "application/pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


ATTACH_FORM = {
    "key": "attach_demo.request",
    "title": {"en": "Attach", "zh": "附件"},
    "schema": {"type": "object", "properties": {"doc": {"type": "object"}}, "required": ["doc"]},
    "ui": {"order": ["doc"], "fields": {"doc": {"label": {"en": "Doc", "zh": "文件"},
                                                "widget": "file"}}},
}  # fmt: skip


def _attach_offering(designer) -> None:
    bpmn = process("attach_demo", '<bpmn:scriptTask id="step" scriptFormat="python">'
                   "<bpmn:incoming>to_step</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>"
                   "<bpmn:script>seen = 1</bpmn:script></bpmn:scriptTask>")  # fmt: skip
    bpmn = bpmn.replace(
        b'<bpmn:process id="attach_demo" name="Test attach_demo" isExecutable="true">',
        b'<bpmn:process id="attach_demo" name="Test attach_demo" isExecutable="true">'
        b"<bpmn:extensionElements><spiffworkflow:properties>"
        b'<spiffworkflow:property name="start_form" value="attach_demo.request" />'
        b"</spiffworkflow:properties></bpmn:extensionElements>",
    )
    response = designer.post(
        "/api/v1/processes/attach_demo/versions",
        data={"file": [(io.BytesIO(bpmn), "attach_demo.bpmn"),
                       (io.BytesIO(json.dumps(ATTACH_FORM).encode()), "request.json")]},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()


# 3. another user's upload could be taken by naming its id in a new request's data
def test_an_upload_belongs_to_its_uploader_until_a_request_links_it(app, as_user):
    designer, hr, requester = as_user("designer"), as_user("hr"), as_user("requester")
    _attach_offering(designer)
    theirs = _upload(hr)
    before = row_counts(app)

    taken = start(requester, "attach_demo", {"doc": theirs})

    assert "file" in assert_problem(taken, 422, "invalid_input")["errors"]
    assert row_counts(app) == before
    mine = _upload(requester)
    started = start(requester, "attach_demo", {"doc": mine})
    assert started.status_code == 201, started.get_json()
    files = requester.get(f"/api/v1/instances/{started.get_json()['id']}/attachments").get_json()
    assert [f["attachment_id"] for f in files] == [mine["attachment_id"]]
    assert hr.get(f"/api/v1/instances/{started.get_json()['id']}/attachments").status_code == 404


# 6. templates from BPMN had no limits: a title template broke every start
@pytest.mark.parametrize(
    "template",
    [
        "{{ 10 ** 5000 }}",
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        "{{ 'x' * 300000000 }}",
        "{{ first_name.nope.deeper }}{{ 1 / 0 }}",
    ],
)
def test_a_hostile_title_template_cannot_break_a_start(app, as_user, template):
    designer = as_user("designer")
    bpmn = process("titled", '<bpmn:userTask id="step" name="Look">'
                   "<bpmn:incoming>to_step</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>"
                   "</bpmn:userTask>")  # fmt: skip
    bpmn = bpmn.replace(
        b'isExecutable="true">',
        b'isExecutable="true"><bpmn:extensionElements><spiffworkflow:properties>'
        b'<spiffworkflow:property name="title_template" value="'
        + template.replace('"', "&quot;").replace("<", "&lt;").encode()
        + b'" /></spiffworkflow:properties></bpmn:extensionElements>',
        1,
    )
    assert deploy(designer, "titled", bpmn).status_code == 201

    response = start(designer, "titled", {})

    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    assert len(response.get_json()["title"]) <= 200


@pytest.mark.parametrize(
    ("template", "message"),
    [("{% for %}", "does not compile"), ("{{ x }}" * 400, "longer than 2000")],
)
def test_a_template_deployment_can_see_is_broken_is_refused(app, as_user, template, message):
    bpmn = process(
        "titled",
        '<bpmn:userTask id="step" name="Look">'
        "<bpmn:extensionElements><spiffworkflow:instructionsForEndUser>"
        + template.replace("<", "&lt;")
        + "</spiffworkflow:instructionsForEndUser></bpmn:extensionElements>"
        "<bpmn:incoming>to_step</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>"
        "</bpmn:userTask>",
    )
    # fmt: skip
    response = deploy(as_user("designer"), "titled", bpmn)
    problems = assert_problem(response, 422, "invalid_process")["problems"]
    assert any(message in p["message"] and p["id"] == "step" for p in problems), problems


# 1. and 2.: the script clock, and BaseException from scripts, through a request
@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "try:\n    while True: pass\nexcept ValueError:\n    pass\nwhile True: pass",
            "time limit",
        ),
        ("raise SystemExit", "SystemExit"),
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
        ("a = (1 &lt;&lt; 16000000) - 1\nb = a * a", "too large"),
        ("x = float('nan')", "finite"),
    ],
)
def test_a_hostile_script_fails_its_step_and_the_request_says_so(app, as_user, script, message):
    designer = as_user("designer")
    assert deploy(designer, "hostile", script_process("hostile", script)).status_code == 201

    response = start(designer, "hostile", {})

    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    body = get_instance(designer, response.get_json()["id"])
    assert body["status"] == "error"
    failure = [e for e in body["events"] if e["kind"] == "failed"][-1]
    assert message in failure["payload"]["error"] and failure["bpmn_id"] == "step"


def test_a_bare_except_is_refused_at_deploy(app, as_user):
    content = script_process("hostile", "try:\n    x = 1\nexcept:\n    x = 2")
    problems = assert_problem(deploy(as_user("designer"), "hostile", content), 422,
                              "invalid_process")["problems"]  # fmt: skip
    assert "bare except is not allowed" in problems[0]["message"]


# 7. every role read every version's BPMN
@pytest.mark.parametrize(
    "url", ["/api/v1/processes", "/api/v1/processes/new_hire_onboarding/versions/1"]
)
def test_only_designers_and_admins_read_process_versions(as_user, url):
    for username in ("requester", "hr", "manager", "it_agent"):
        assert_problem(as_user(username).get(url), 403, "forbidden")
    assert as_user("designer").get(url).status_code == 200
    assert as_user("admin").get(url).status_code == 200


# 10. 500s on bad input
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/instances/2147483648",
        "/api/v1/instances/9223372036854775808",
        "/api/v1/instances/99999999999999999999999999/comments",
        "/api/v1/processes/new_hire_onboarding/versions/9223372036854775808",
    ],
)
def test_ids_too_large_for_the_database_are_not_found(as_user, url):
    assert_problem(as_user("admin").get(url), 404, "not_found")


def test_failed_step_ids_too_large_are_reported_one_by_one(as_user):
    reply = as_user("admin").post("/api/v1/failed-steps/retry", json={"ids": [2**40, 2**62]})
    assert reply.status_code == 200
    assert {o["outcome"] for o in reply.get_json()} == {"not_found"}


@pytest.mark.parametrize("page", ["10000000000000000000000000000000", "1e30", "-1", "0"])
def test_absurd_pages_are_422(as_user, page):
    assert_problem(as_user("hr").get(f"/api/v1/instances?page={page}"), 422, "invalid_input")


def test_nul_characters_are_refused_and_change_nothing(app, as_user):
    before = row_counts(app)
    body = json.dumps({"offering": "new_hire_onboarding",
                       "data": {**ONBOARDING_DATA, "role": "Boss\u0000"}})  # fmt: skip
    response = as_user("hr").post("/api/v1/instances", data=body, content_type="application/json")
    assert "NUL" in assert_problem(response, 422, "invalid_input")["detail"]
    assert_problem(as_user("hr").get("/api/v1/instances?offering=a%00b"), 422, "invalid_input")
    assert row_counts(app) == before


def test_json_nested_ten_thousand_deep_is_422(app, as_user):
    body = '{"offering": "x", "data": {"a": ' + "[" * 10000 + "]" * 10000 + "}}"
    response = as_user("hr").post("/api/v1/instances", data=body, content_type="application/json")
    assert "nested" in assert_problem(response, 422, "invalid_input")["detail"]


def test_too_long_urls_and_headers_answer_in_problem_json(as_user):
    long_url = as_user("hr").get("/api/v1/instances?offering=" + "x" * 9000)
    assert_problem(long_url, 414, "http_error")
    big = as_user("hr").get("/api/v1/instances", headers={"X-Big": "y" * 40000})
    assert_problem(big, 431, "http_error")


# 12. contract: every timestamp carries its offset
def test_api_timestamps_carry_their_utc_offset(as_user):
    instance = start_onboarding(as_user("hr"))
    body = get_instance(as_user("hr"), instance["id"])
    stamps = [body["created_at"], body["updated_at"], *(e["created_at"] for e in body["events"]),
              open_task(body, "manager_approval")["created_at"]]  # fmt: skip
    assert all(stamp.endswith("+00:00") for stamp in stamps), stamps


def test_the_openapi_document_describes_errors_bodies_and_data(as_user):
    spec = as_user("admin").get("/api/v1/openapi.json").get_json()
    deploy_op = spec["paths"]["/api/v1/processes/{key}/versions"]["post"]
    assert set(deploy_op["requestBody"]["content"]) == {"application/xml", "multipart/form-data"}
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(default) == ["application/problem+json"]
    start_body = spec["components"]["schemas"]["StartInstance"]["properties"]["data"]
    assert "start_form_definition" in start_body["description"]


# 11. orphan uploads
def test_uploads_no_request_took_are_purged_with_their_files(app, as_user, tmp_path):
    hr = as_user("hr")
    kept, orphan = _upload(hr, "kept.pdf"), _upload(hr, "orphan.pdf")
    with app.app_context():
        rows = {a.id: a for a in db.session.scalars(select(Attachment))}
        path = attachments.path_of(
            app.config["ATTACHMENTS_DIR"], rows[orphan["attachment_id"]].sha256
        )
        rows[kept["attachment_id"]].instance_id = None
        db.session.remove()
    assert path.is_file()
    with app.app_context():
        assert service.purge_unclaimed_uploads(storage=app.config["ATTACHMENTS_DIR"]) == 0
        assert service.purge_unclaimed_uploads(storage=app.config["ATTACHMENTS_DIR"],
                                               older_than_hours=-1) == 2  # fmt: skip
        assert db.session.scalars(select(Attachment)).all() == []
        db.session.remove()
    assert not path.exists()


# 4. the in-process worker thread died for good on one database error
def test_the_in_process_worker_survives_a_database_error_and_health_tells(database, monkeypatch):
    app = make_app(database, DISPATCHER="inline", TIMER_POLL_SECONDS=0.05)
    worker = app.extensions["flowdesk"].dispatch
    calls = {"n": 0}
    real = automation.hold_lease

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(automation, "hold_lease", flaky)
    worker.ensure_started()
    deadline = time.monotonic() + 30
    while calls["n"] < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    client = app.test_client()
    assert calls["n"] >= 4 and worker.errors == 2
    assert client.get("/api/v1/health").status_code == 200
    worker.stop()
    assert client.get("/api/v1/health").get_json() == {
        "status": "fail", "problems": ["the in-process worker thread has stopped"]}  # fmt: skip
