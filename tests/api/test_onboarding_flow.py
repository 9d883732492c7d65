"""New-hire onboarding end to end through the API, with service tasks drained in-process."""

from sqlalchemy import func, select

from engine.db import db
from engine.directory.models import DirectoryAccount
from engine.instances.models import Job
from tests.api.support import (
    APPROVE,
    LAPTOP,
    assert_problem,
    complete,
    complete_ok,
    drain,
    get_instance,
    inbox,
    open_task,
    scalar,
    start_onboarding,
)
from workers import jobs


def directory_account(app, username: str) -> DirectoryAccount | None:
    return scalar(app, select(DirectoryAccount).filter_by(username=username))


def job_operations(app, instance_id: int) -> list[str]:
    with app.app_context():
        operations = list(
            db.session.scalars(
                select(Job.operation).filter_by(instance_id=instance_id).order_by(Job.id)
            )
        )
        db.session.remove()
    return operations


def approve_and_prepare_laptop(app, as_user, instance: dict) -> dict:
    """Manager approves, jobs run, IT prepares the laptop, jobs run; return the final instance."""
    approval = open_task(instance, "manager_approval")
    approved = complete_ok(as_user("manager"), approval["task_id"], APPROVE)
    assert approved["status"] == "user_input_required"  # laptop step open, accounts job queued
    drain(app)
    laptop = open_task(get_instance(as_user("hr"), instance["id"]), "prepare_laptop")
    assert laptop["candidate_group"] == "it_support"
    assert [t["task_id"] for t in inbox(as_user("it_agent"))] == [laptop["task_id"]]
    complete_ok(as_user("it_agent"), laptop["task_id"], LAPTOP)
    drain(app)
    return get_instance(as_user("hr"), instance["id"])


def test_employee_onboarding_runs_to_ready_with_account_and_vpn(app, as_user):
    instance = start_onboarding(as_user("hr"))

    final = approve_and_prepare_laptop(app, as_user, instance)

    assert final["status"] == "complete"
    assert final["outcome"] == "done"
    assert final["completed_at"] is not None
    assert final["open_tasks"] == []
    account = directory_account(app, "wei.zhang")
    assert account is not None
    assert account.full_name == "Wei Zhang"
    assert account.employment_type == "employee"
    assert account.vpn_profile == "staff"
    assert job_operations(app, instance["id"]) == [
        "directory.create_account",
        "directory.grant_vpn",
        "mail.send",
    ]
    assert final["data"]["account"]["email"] == "wei.zhang@example.com"
    assert final["data"]["asset_tag"] == "LT-004211"


def test_onboarding_history_records_who_did_what(app, as_user):
    instance = start_onboarding(as_user("hr"))

    final = approve_and_prepare_laptop(app, as_user, instance)

    events = [(e["kind"], e["actor"], e["bpmn_id"]) for e in final["events"]]
    assert events[0] == ("started", "hr", None)
    assert ("task_completed", "manager", "manager_approval") in events
    assert ("task_completed", "it_agent", "prepare_laptop") in events
    assert ("job_done", None, "create_accounts") in events
    assert ("job_done", None, "grant_vpn") in events
    assert ("job_done", None, "notify_hr_ready") in events
    assert events[-1] == ("completed", None, "end_ready")
    assert final["events"][-1]["payload"] == {"outcome": "done", "reason": None}
    assert [e["id"] for e in final["events"]] == sorted(e["id"] for e in final["events"])


def test_contractor_gets_an_account_but_no_vpn(app, as_user):
    instance = start_onboarding(
        as_user("hr"), username="li.contractor", employment_type="contractor"
    )

    final = approve_and_prepare_laptop(app, as_user, instance)

    assert final["status"] == "complete"
    assert final["outcome"] == "done"
    account = directory_account(app, "li.contractor")
    assert account is not None
    assert account.employment_type == "contractor"
    assert account.vpn_profile is None
    assert "directory.grant_vpn" not in job_operations(app, instance["id"])


def test_rejected_onboarding_ends_rejected_without_account(app, as_user):
    instance = start_onboarding(as_user("hr"))
    approval = open_task(instance, "manager_approval")

    rejected = complete_ok(
        as_user("manager"),
        approval["task_id"],
        {"manager_approved": False, "manager_comment": "Position was cancelled."},
    )
    assert rejected["status"] == "running"  # the rejection mail is a job
    assert rejected["open_tasks"] == []
    drain(app)

    final = get_instance(as_user("hr"), instance["id"])
    assert final["status"] == "complete"
    assert final["outcome"] == "rejected"
    assert final["outcome_reason"] == "Position was cancelled."
    decided = [e for e in final["events"] if e["kind"] == "task_completed"][0]
    assert decided["payload"]["decision"] == "rejected"
    assert decided["payload"]["comment"] == "Position was cancelled."
    assert directory_account(app, "wei.zhang") is None
    assert job_operations(app, instance["id"]) == ["mail.send"]
    assert inbox(as_user("it_agent")) == []
    kinds = [e["kind"] for e in final["events"]]
    assert kinds == ["started", "task_completed", "job_done", "completed"]


def test_cancelling_stops_queued_automated_steps(app, as_user):
    hr = as_user("hr")
    instance = start_onboarding(hr)
    complete_ok(as_user("manager"), open_task(instance, "manager_approval")["task_id"], APPROVE)
    assert len(app.extensions["flowdesk"].dispatch.job_ids) == 1  # create_accounts, queued

    cancelled = hr.post(f"/api/v1/instances/{instance['id']}/cancel").get_json()
    drain(app)

    assert cancelled["status"] == "cancelled"
    assert directory_account(app, "wei.zhang") is None
    final = get_instance(hr, instance["id"])
    assert final["status"] == "cancelled"
    assert final["events"] == cancelled["events"]
    assert inbox(as_user("it_agent")) == []


def test_laptop_step_validates_its_form(app, as_user):
    instance = start_onboarding(as_user("hr"))
    complete_ok(as_user("manager"), open_task(instance, "manager_approval")["task_id"], APPROVE)
    drain(app)
    laptop = open_task(get_instance(as_user("hr"), instance["id"]), "prepare_laptop")

    response = complete(
        as_user("it_agent"), laptop["task_id"], {"asset_tag": "lt-1", "laptop_model": "abacus"}
    )

    errors = assert_problem(response, 422, "invalid_input")["errors"]
    assert set(errors) == {"asset_tag", "laptop_model"}
    assert open_task(get_instance(as_user("hr"), instance["id"]), "prepare_laptop")


def test_draining_again_is_a_no_op(app, as_user):
    instance = start_onboarding(as_user("hr"))
    final = approve_and_prepare_laptop(app, as_user, instance)
    dispatch = app.extensions["flowdesk"].dispatch
    job_ids = list(dispatch.job_ids)

    dispatch.job_ids.clear()
    dispatch.job_ids.extend(job_ids)  # every job delivered a second time
    drain(app)

    again = get_instance(as_user("hr"), instance["id"])
    assert again["events"] == final["events"]
    assert again["status"] == "complete"


def test_a_worker_runs_the_next_automated_step_of_a_request_in_the_same_pass(app, as_user):
    instance = start_onboarding(as_user("hr"))
    complete_ok(as_user("manager"), open_task(instance, "manager_approval")["task_id"], APPROVE)
    dispatch = app.extensions["flowdesk"].dispatch
    [accounts_job] = dispatch.job_ids

    with app.app_context():
        assert jobs.execute_job(accounts_job, config=app.config, dispatch=dispatch) == "done"
        db.session.remove()

    # create_accounts led to grant_vpn: this worker ran it too, nothing went through the queue
    assert dispatch.job_ids == [accounts_job]
    assert job_operations(app, instance["id"]) == [
        "directory.create_account",
        "directory.grant_vpn",
    ]
    statuses = scalar(app, select(func.count()).where(
        Job.instance_id == instance["id"], Job.status == "done"))  # fmt: skip
    assert statuses == 2
    assert directory_account(app, "wei.zhang").vpn_profile is not None


def test_a_chain_hands_its_next_step_to_the_queue_after_its_limit(app, as_user, monkeypatch):
    monkeypatch.setattr(jobs, "CHAIN_LIMIT", 0)
    instance = start_onboarding(as_user("hr"))
    complete_ok(as_user("manager"), open_task(instance, "manager_approval")["task_id"], APPROVE)
    dispatch = app.extensions["flowdesk"].dispatch
    [accounts_job] = dispatch.job_ids

    with app.app_context():
        jobs.execute_job(accounts_job, config=app.config, dispatch=dispatch)
        db.session.remove()

    assert len(dispatch.job_ids) == 2  # grant_vpn was queued, not run
    assert job_operations(app, instance["id"]) == [
        "directory.create_account",
        "directory.grant_vpn",
    ]
