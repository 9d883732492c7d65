"""POST /api/v1/processes and `flowdesk import`: any process id, a derived key; Camunda's
assignee and candidates in FlowDesk's inboxes."""

from tests.api.support import assert_problem, complete, complete_ok, drain, inbox, start
from tests.api.test_corpus import CORPUS, upload

PURCHASE = "camunda_purchase_approval.bpmn"
ANNOUNCEMENT = "camunda-testing-job-announcement.bpmn"


def test_import_derives_the_key_and_keeps_the_process_id(as_user):
    designer = as_user("designer")

    first = upload(designer, PURCHASE)
    again = upload(designer, PURCHASE)

    assert first.status_code == 201 and again.status_code == 200
    assert first.headers["Location"] == "/api/v1/processes/process_1/versions/1"
    assert again.get_json()["process_id"] == "Process_1"


def test_import_adds_a_suffix_when_another_process_holds_the_derived_key(as_user):
    designer = as_user("designer")
    content = (CORPUS / PURCHASE).read_bytes().replace(b'"Process_1"', b'"process-1"')
    upload(designer, PURCHASE)

    other = designer.post("/api/v1/processes", data=content, content_type="application/xml")

    assert other.status_code == 201, other.get_data(as_text=True)
    assert (other.get_json()["process_key"], other.get_json()["process_id"]) == (
        "process_1_2",
        "process-1",
    )


def test_import_takes_the_chosen_key_and_states_the_rule_for_a_bad_one(as_user):
    designer = as_user("designer")

    chosen = upload(designer, PURCHASE, key="purchase_approval")
    bad = upload(designer, PURCHASE, key="Purchase-Approval")

    assert chosen.get_json()["process_key"] == "purchase_approval"
    body = assert_problem(bad, 422, "invalid_input")
    assert "lowercase letters, digits and underscores" in body["errors"]["key"][0]
    redeploy = designer.post(
        "/api/v1/processes/purchase_approval/versions",
        query_string={"filename": PURCHASE},
        data=(CORPUS / PURCHASE).read_bytes(),
        content_type="application/xml",
    )
    assert redeploy.status_code == 200  # the offering remembers its process id


def test_deploy_by_url_states_the_key_rule_when_the_key_is_a_foreign_id(as_user):
    response = as_user("designer").post(
        "/api/v1/processes/Process_1/versions",
        data=(CORPUS / PURCHASE).read_bytes(),
        content_type="application/xml",
    )

    body = assert_problem(response, 422, "invalid_input")
    assert "lowercase letters, digits and underscores" in body["detail"]
    assert "POST /api/v1/processes" in body["detail"]


def test_candidate_group_task_shows_in_the_managers_inbox_and_a_manager_completes_it(app, as_user):
    upload(as_user("designer"), PURCHASE)
    instance_id = start(as_user("requester"), "process_1", {}).get_json()["id"]
    manager, hr = as_user("manager"), as_user("hr")

    (task,) = [t for t in inbox(manager, scope="groups") if t["instance_id"] == instance_id]

    assert (task["candidate_group"], task["priority"]) == ("managers", 80)
    assert task["due_at"] is not None
    assert not [t for t in inbox(hr) if t["instance_id"] == instance_id]
    assert_problem(complete(hr, task["task_id"], {"approved": True}), 403, "forbidden")
    complete_ok(manager, task["task_id"], {"approved": False, "comment": "Not now"})
    drain(app)
    instance = manager.get(f"/api/v1/instances/{instance_id}").get_json()
    assert instance["status"] == "complete"
    assert [e["bpmn_id"] for e in instance["events"] if e["kind"] == "completed"] == [
        "EndEvent_rejected"
    ]


def test_assignee_from_the_initiator_and_candidate_users_reach_their_inboxes(app, as_user):
    upload(as_user("designer"), ANNOUNCEMENT)
    requester, manager = as_user("requester"), as_user("manager")
    instance_id = start(requester, "camunda_testing_job_announcement", {}).get_json()["id"]

    (edit,) = [t for t in inbox(requester, scope="mine") if t["instance_id"] == instance_id]
    assert edit["assignee"] == "requester"
    complete_ok(requester, edit["task_id"], {})

    (review,) = [t for t in inbox(manager, scope="groups") if t["instance_id"] == instance_id]
    assert review["bpmn_id"] == "review" and review["candidate_group"] == "it_leads"
    assert_problem(complete(as_user("hr"), review["task_id"], {}), 403, "forbidden")
    complete_ok(manager, review["task_id"], {})


def test_cli_import_deploys_a_foreign_file(app):
    result = app.test_cli_runner().invoke(
        args=["flowdesk", "import", str(CORPUS / "flowable_leave_request.bpmn20.xml")]
    )

    assert result.exit_code == 0, result.output
    assert "leaverequest v1 (new), process 'leaveRequest'" in result.output


def test_cli_import_lists_the_problems_of_a_refused_file(app):
    result = app.test_cli_runner().invoke(
        args=["flowdesk", "import", str(CORPUS / "refused_camunda_java_delegate.bpmn")]
    )

    assert result.exit_code == 1
    assert "[Task_archive] camunda:class is a Java delegate" in result.output
