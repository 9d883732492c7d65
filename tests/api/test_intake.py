"""Bad data is stopped at the door, with a message beside its field; a failed step's input can
be corrected and retried."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import clock
from engine.db import db
from engine.directory.models import DirectoryAccount
from engine.instances.models import Job
from tests.api.support import (
    APPROVE,
    LAPTOP,
    ONBOARDING_DATA,
    STORE_DATA,
    assert_problem,
    complete_ok,
    drain,
    get_instance,
    open_task,
    row_counts,
    start,
    start_onboarding,
)


def _take_username(app, username: str) -> None:
    with app.app_context():
        db.session.add(DirectoryAccount(username=username, full_name="Someone", email="x@y.cn"))
        db.session.commit()
        db.session.remove()


def _refused(app, api, offering: str, data: dict) -> dict:
    before = row_counts(app)
    body = assert_problem(start(api, offering, data), 422, "invalid_input")
    assert row_counts(app) == before
    assert app.extensions["flowdesk"].dispatch.job_ids == []
    return body


def test_a_start_date_in_the_past_is_refused_beside_the_field(app, as_user):
    yesterday = (clock.today() - timedelta(days=1)).isoformat()

    body = _refused(
        app, as_user("hr"), "new_hire_onboarding", {**ONBOARDING_DATA, "start_date": yesterday}
    )

    assert body["errors"] == {"start_date": [f"Choose {clock.today().isoformat()} or later."]}
    assert body["messages"]["start_date"][0]["zh"].startswith("请选择")


def test_today_is_a_valid_start_date(as_user):
    assert start_onboarding(as_user("hr"), start_date=clock.today().isoformat())


def test_an_opening_date_in_the_past_is_refused(app, as_user):
    body = _refused(
        app,
        as_user("requester"),
        "store_opening_it_readiness",
        {**STORE_DATA, "opening_date": "2020-01-01"},
    )

    assert list(body["errors"]) == ["opening_date"]


@pytest.mark.parametrize("address", ["grace@", "zhangwei@", "grace@localhost", "@example.com"])
def test_an_address_that_is_no_email_is_refused(app, as_user, address):
    body = _refused(
        app, as_user("hr"), "new_hire_onboarding", {**ONBOARDING_DATA, "personal_email": address}
    )

    assert body["errors"] == {"personal_email": ["Enter a valid email address."]}


def test_a_username_taken_in_the_directory_is_refused_before_anyone_approves(app, as_user):
    _take_username(app, "wei.zhang")

    body = _refused(app, as_user("hr"), "new_hire_onboarding", ONBOARDING_DATA)

    assert body["errors"] == {"username": ["This username is already taken in the directory."]}
    assert body["messages"]["username"][0]["zh"] == "该用户名在目录中已被占用。"


def test_every_problem_is_reported_at_once(app, as_user):
    _take_username(app, "wei.zhang")

    body = _refused(
        app,
        as_user("hr"),
        "new_hire_onboarding",
        {**ONBOARDING_DATA, "personal_email": "grace@", "start_date": "2020-01-01"},
    )

    assert sorted(body["errors"]) == ["personal_email", "start_date", "username"]


def _failed_create_accounts(app, as_user) -> tuple[dict, int]:
    """An onboarding whose username was taken between submit and the account job."""
    instance = start_onboarding(as_user("hr"))
    complete_ok(as_user("manager"), open_task(instance, "manager_approval")["task_id"], APPROVE)
    _take_username(app, "wei.zhang")
    drain(app)
    with app.app_context():
        job_id = db.session.scalar(select(Job.id).filter_by(bpmn_id="create_accounts"))
        db.session.remove()
    assert get_instance(as_user("hr"), instance["id"])["status"] == "error"
    return instance, job_id


def test_an_agent_corrects_a_failed_steps_data_and_the_request_goes_on(app, as_user):
    instance, job_id = _failed_create_accounts(app, as_user)
    agent = as_user("it_agent")
    failed = agent.get("/api/v1/failed-steps").get_json()["items"]
    assert [(f["id"], f["bpmn_id"]) for f in failed] == [(job_id, "create_accounts")]

    corrected = agent.post(
        f"/api/v1/failed-steps/{job_id}/correct", json={"changes": {"username": "wei.zhang2"}}
    )

    assert corrected.status_code == 200, corrected.get_json()
    assert corrected.get_json()["params"]["username"] == "wei.zhang2"
    drain(app)
    laptop = open_task(get_instance(as_user("hr"), instance["id"]), "prepare_laptop")
    complete_ok(agent, laptop["task_id"], LAPTOP)
    drain(app)
    done = get_instance(as_user("hr"), instance["id"])
    assert (done["status"], done["outcome"]) == ("complete", "done")
    assert done["data"]["account"]["username"] == "wei.zhang2"
    assert done["data"]["vpn"]["username"] == "wei.zhang2"  # the next step read the corrected data
    (event,) = [e for e in done["events"] if e["kind"] == "step_corrected"]
    assert event["actor"] == "it_agent"
    assert event["payload"]["changes"] == {"username": {"from": "wei.zhang", "to": "wei.zhang2"}}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "wei.zhang"}, "username", "already taken"),
        ({"username": "Wei Zhang"}, "username", "expected format"),
        ({"asset_tag": "LT-1"}, "asset_tag", "does not read"),
        ({}, "changes", "Required"),
    ],
)
def test_a_correction_is_checked_like_the_form_that_collected_the_data(
    app, as_user, changes, field, message
):
    _instance, job_id = _failed_create_accounts(app, as_user)
    before = row_counts(app)

    response = as_user("it_agent").post(
        f"/api/v1/failed-steps/{job_id}/correct", json={"changes": changes}
    )

    body = assert_problem(response, 422, "invalid_input")
    assert any(message in m for m in body["errors"][field]), body["errors"]
    assert row_counts(app) == before


def test_only_agents_and_admins_correct_a_failed_step(app, as_user):
    _instance, job_id = _failed_create_accounts(app, as_user)

    response = as_user("hr").post(
        f"/api/v1/failed-steps/{job_id}/correct", json={"changes": {"username": "x.y.z"}}
    )

    assert_problem(response, 403, "forbidden")


def test_a_skip_result_typed_as_the_data_holds_it_is_not_nested_again(app, as_user):
    instance, job_id = _failed_create_accounts(app, as_user)
    account = {"username": "wei.zhang", "email": "wei.zhang@example.com", "created": True}

    reply = as_user("admin").post(
        "/api/v1/failed-steps/skip", json={"ids": [job_id], "result": {"account": account}}
    )

    assert reply.get_json() == [{"id": job_id, "outcome": "ok", "detail": None}]
    assert get_instance(as_user("hr"), instance["id"])["data"]["account"] == account
