"""Inbox: who sees a task, who may complete it, claims, form validation, and a real race."""

import io
import threading

from sqlalchemy import func, select

from engine.db import db
from engine.identity.models import User
from engine.instances.models import InstanceEvent
from tests.api.support import (
    APPROVE,
    assert_problem,
    complete,
    complete_ok,
    inbox,
    instance_row,
    open_task,
    row_counts,
    scalar,
    start_onboarding,
    task_state,
)


def approval_task(as_user) -> tuple[dict, dict]:
    instance = start_onboarding(as_user("hr"))
    return instance, open_task(instance, "manager_approval")


def create_user(app, username: str, groups: str, roles: str = "requester,approver") -> str:
    """Create a user with the CLI and return the token it prints."""
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=[
                "flowdesk",
                "create-user",
                username,
                "--name",
                username.title(),
                "--roles",
                roles,
                "--groups",
                groups,
            ]
        )
        db.session.remove()
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_manager_sees_the_approval_in_the_inbox(as_user):
    instance, task = approval_task(as_user)

    items = inbox(as_user("manager"))

    assert [t["task_id"] for t in items] == [task["task_id"]]
    assert items[0]["instance_id"] == instance["id"]
    assert items[0]["candidate_group"] == "managers"
    assert items[0]["instance_title"] == instance["title"]
    assert inbox(as_user("manager"), scope="groups")[0]["task_id"] == task["task_id"]
    assert inbox(as_user("manager"), scope="mine") == []


def test_hr_and_requester_do_not_see_the_approval(as_user):
    approval_task(as_user)

    for username in ("hr", "requester", "it_agent", "designer"):
        assert inbox(as_user(username)) == [], username


def test_inbox_filters_by_offering_and_pages(as_user):
    hr = as_user("hr")
    for n in range(3):
        start_onboarding(hr, username=f"user{n}")
    manager = as_user("manager")

    response = manager.get("/api/v1/tasks", query_string={"page_size": 2, "page": 2})
    body = response.get_json()
    assert body["total"] == 3 and len(body["items"]) == 1
    assert inbox(manager, offering="store_opening_it_readiness") == []
    assert len(inbox(manager, offering="new_hire_onboarding")) == 3
    bad = manager.get("/api/v1/tasks?scope=everyone")
    assert "scope" in assert_problem(bad, 422, "invalid_input")["errors"]


def test_task_detail_has_form_definition_and_rendered_instructions(as_user):
    _, task = approval_task(as_user)

    response = as_user("manager").get(f"/api/v1/tasks/{task['task_id']}")

    assert response.status_code == 200
    body = response.get_json()
    assert body["form"]["key"] == "new_hire_onboarding.manager_approval"
    assert body["form"]["schema"]["required"] == ["manager_approved"]
    assert body["instructions"].startswith("Approve onboarding of Wei Zhang (Backend engineer")
    assert "{{" not in body["instructions"]


def test_instructions_are_plain_text_not_html(as_user):
    # a JSON API returns text; HTML-escaping belongs to whoever renders it (else O&#39;Brien)
    instance = start_onboarding(as_user("hr"), first_name="O'Brien", last_name="<Lee>")
    task = open_task(instance, "manager_approval")

    body = as_user("manager").get(f"/api/v1/tasks/{task['task_id']}").get_json()

    assert body["instructions"].startswith("Approve onboarding of O'Brien <Lee> (")


def test_task_detail_of_someone_elses_task_is_403(as_user):
    _, task = approval_task(as_user)
    assert_problem(as_user("requester").get(f"/api/v1/tasks/{task['task_id']}"), 403, "forbidden")


def test_requester_completing_the_managers_task_is_403_and_changes_nothing(app, as_user):
    instance, task = approval_task(as_user)
    before, row_before = row_counts(app), instance_row(app, instance["id"])

    response = complete(as_user("requester"), task["task_id"], APPROVE)

    assert_problem(response, 403, "forbidden")
    assert row_counts(app) == before
    assert instance_row(app, instance["id"]) == row_before
    assert task_state(app, task["task_id"]) == ("open", None, None)
    assert [t["task_id"] for t in inbox(as_user("manager"))] == [task["task_id"]]


def test_invalid_form_submission_is_422_with_field_errors_and_task_stays_open(app, as_user):
    instance, task = approval_task(as_user)
    manager = as_user("manager")
    before, row_before = row_counts(app), instance_row(app, instance["id"])

    wrong_type = complete(manager, task["task_id"], {"manager_approved": "yes"})
    missing = complete(manager, task["task_id"], {})
    reject_without_comment = complete(manager, task["task_id"], {"manager_approved": False})
    blank_comment = complete(
        manager, task["task_id"], {"manager_approved": False, "manager_comment": "   "}
    )
    unknown = complete(manager, task["task_id"], {**APPROVE, "bonus": 100})
    not_object = manager.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"data": [1]})

    assert "manager_approved" in assert_problem(wrong_type, 422, "invalid_input")["errors"]
    assert "manager_approved" in assert_problem(missing, 422, "invalid_input")["errors"]
    errors = assert_problem(reject_without_comment, 422, "invalid_input")["errors"]
    assert errors == {"manager_comment": ["Say why you reject the request."]}
    assert "manager_comment" in assert_problem(blank_comment, 422, "invalid_input")["errors"]
    assert "bonus" in assert_problem(unknown, 422, "invalid_input")["errors"]
    assert "data" in assert_problem(not_object, 422, "invalid_input")["errors"]
    assert row_counts(app) == before
    assert instance_row(app, instance["id"]) == row_before
    assert task_state(app, task["task_id"]) == ("open", None, None)


def test_completing_twice_is_409_the_second_time(app, as_user):
    _, task = approval_task(as_user)
    manager = as_user("manager")
    complete_ok(manager, task["task_id"], APPROVE)
    before = row_counts(app)

    response = complete(manager, task["task_id"], APPROVE)

    assert_problem(response, 409, "conflict")
    assert row_counts(app) == before


def test_unknown_task_is_404(as_user):
    manager = as_user("manager")
    unknown = "00000000-0000-0000-0000-000000000000"
    assert_problem(complete(manager, unknown, APPROVE), 404, "not_found")
    assert_problem(manager.get(f"/api/v1/tasks/{unknown}"), 404, "not_found")
    assert_problem(manager.post(f"/api/v1/tasks/{unknown}/claim"), 404, "not_found")
    assert_problem(manager.post("/api/v1/tasks/not-a-uuid/unclaim"), 404, "not_found")


def test_claimed_task_cannot_be_completed_by_another_group_member(app, as_user):
    token = create_user(app, "manager2", groups="managers")
    instance, task = approval_task(as_user)
    manager, manager2 = as_user("manager"), as_user("manager2", token=token)
    assert [t["task_id"] for t in inbox(manager2)] == [task["task_id"]]

    claimed = manager.post(f"/api/v1/tasks/{task['task_id']}/claim")

    assert claimed.status_code == 200
    assert claimed.get_json()["assignee"] == "manager"
    assert [t["task_id"] for t in inbox(manager, scope="mine")] == [task["task_id"]]
    assert inbox(manager2) == []
    before, row_before = row_counts(app), instance_row(app, instance["id"])
    assert_problem(complete(manager2, task["task_id"], APPROVE), 409, "conflict")
    assert_problem(manager2.post(f"/api/v1/tasks/{task['task_id']}/claim"), 409, "conflict")
    assert_problem(manager2.post(f"/api/v1/tasks/{task['task_id']}/unclaim"), 409, "conflict")
    assert_problem(as_user("hr").post(f"/api/v1/tasks/{task['task_id']}/claim"), 403, "forbidden")
    assert row_counts(app) == before
    assert instance_row(app, instance["id"]) == row_before
    assert task_state(app, task["task_id"])[0] == "open"


def test_unclaim_gives_the_task_back_to_the_group(app, as_user):
    token = create_user(app, "manager2", groups="managers")
    _, task = approval_task(as_user)
    manager, manager2 = as_user("manager"), as_user("manager2", token=token)
    manager.post(f"/api/v1/tasks/{task['task_id']}/claim")

    response = manager.post(f"/api/v1/tasks/{task['task_id']}/unclaim")

    assert response.status_code == 200
    assert response.get_json()["assignee"] is None
    assert [t["task_id"] for t in inbox(manager2)] == [task["task_id"]]
    body = complete_ok(manager2, task["task_id"], APPROVE)
    body = manager2.get(f"/api/v1/instances/{body['id']}").get_json()
    kinds = [(e["kind"], e["actor"]) for e in body["events"]]
    assert kinds[1:] == [
        ("task_claimed", "manager"),
        ("task_unclaimed", "manager"),
        ("task_completed", "manager2"),
    ]


def test_claiming_a_completed_task_is_409(as_user):
    _, task = approval_task(as_user)
    manager = as_user("manager")
    complete_ok(manager, task["task_id"], APPROVE)
    assert_problem(manager.post(f"/api/v1/tasks/{task['task_id']}/claim"), 409, "conflict")


def test_create_user_with_unknown_group_fails(app):
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=["flowdesk", "create-user", "x1", "--name", "X", "--groups", "no_such_group"]
        )
    assert result.exit_code != 0
    assert "Unknown group: no_such_group" in result.output


def test_flowdesk_cli_commands_run_without_an_outer_app_context(app):
    # Flask's test runner (like `flask --app ...`) should be all a command needs
    result = app.test_cli_runner().invoke(args=["flowdesk", "create-user", "x1", "--name", "X"])
    assert result.exit_code == 0, repr(result.exception)


def test_two_members_completing_the_same_task_at_once_one_wins(app, as_user):
    instance, task = approval_task(as_user)
    token = create_user(app, "manager2", groups="managers")
    barrier = threading.Barrier(2)
    responses = {}

    def submit(name: str, bearer: str) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        responses[name] = client.post(
            f"/api/v1/tasks/{task['task_id']}/complete",
            json={"data": APPROVE},
            headers={"Authorization": f"Bearer {bearer}"},
        )

    threads = [
        threading.Thread(target=submit, args=("manager", "demo-manager")),
        threading.Thread(target=submit, args=("manager2", token)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [202, 409], {k: r.get_data(as_text=True) for k, r in responses.items()}
    loser = next(r for r in responses.values() if r.status_code == 409)
    assert_problem(loser, 409, "conflict")
    completed_events = scalar(
        app,
        select(func.count())
        .select_from(InstanceEvent)
        .filter_by(instance_id=instance["id"], kind="task_completed"),
    )
    assert completed_events == 1
    winner = next(name for name, r in responses.items() if r.status_code == 202)
    winner_id = scalar(app, select(User.id).filter_by(username=winner))
    assert task_state(app, task["task_id"]) == ("completed", None, winner_id)
    assert len(app.extensions["flowdesk"].dispatch.job_ids) == 1  # create_accounts, once


def test_the_api_comments_reassigns_and_uploads_as_the_web_does(app, as_user):
    hr, it = as_user("hr"), as_user("it_agent")
    instance = start_onboarding(hr)
    said = hr.post(f"/api/v1/instances/{instance['id']}/comments", json={"body": "Thanks!"})
    assert said.status_code == 201 and said.get_json()["author"] == "hr"
    assert [c["body"] for c in it.get(f"/api/v1/instances/{instance['id']}/comments").get_json()]
    assert (
        as_user("requester").get(f"/api/v1/instances/{instance['id']}/comments").status_code == 404
    )
    empty = hr.post(f"/api/v1/instances/{instance['id']}/comments", json={"body": ""})
    assert_problem(empty, 422, "invalid_input")

    task = open_task(instance, "manager_approval")["task_id"]
    moved = as_user("manager").post(f"/api/v1/tasks/{task}/reassign", json={"assignee": "manager"})
    assert moved.status_code == 200 and moved.get_json()["assignee"] == "manager"
    stranger = as_user("manager").post(f"/api/v1/tasks/{task}/reassign", json={"assignee": "hr"})
    assert_problem(stranger, 422, "invalid_input")

    pdf = b"%PDF-1.4\n%%EOF\n"
    uploaded = hr.post(
        "/api/v1/instances/attachments",
        data={"file": (io.BytesIO(pdf), "plan.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    assert uploaded.get_json()["filename"] == "plan.pdf"
    refused = hr.post(
        "/api/v1/instances/attachments",
        data={"file": (io.BytesIO(b"MZ"), "tool.exe", "application/x-msdownload")},
        content_type="multipart/form-data",
    )
    assert assert_problem(refused, 422, "invalid_input")["errors"] == {
        "file": ["This type of file is not accepted."]
    }
