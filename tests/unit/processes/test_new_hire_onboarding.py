"""new_hire_onboarding: approval, provisioning per employment type, rejection, laptop reminder."""

from datetime import UTC, datetime

import pytest

from engine.bpmn.runtime import InstanceStatus
from engine.bpmn.scripting import days_before
from tests.unit.support import StoredInstance

START_DATE = "2099-06-01"  # far enough ahead that the reminder never falls due in a test
REQUEST = {
    "first_name": "Wei",
    "last_name": "Zhang",
    "username": "wei.zhang",
    "personal_email": "wei@example.com",
    "department": "engineering",
    "role": "Backend engineer",
    "start_date": START_DATE,
    "employment_type": "employee",
    "location": "shanghai",
}
LAPTOP = {"asset_tag": "LT-004211", "laptop_model": "thinkpad_t14"}


@pytest.fixture
def request_onboarding(library, forms):
    def start(**changes) -> StoredInstance:
        return StoredInstance(library.get("new_hire_onboarding"), {**REQUEST, **changes}, forms)

    return start


def test_onboarding_waits_for_manager_when_requested(request_onboarding):
    instance = request_onboarding()

    (step,) = instance.open_steps()
    assert (step.bpmn_id, step.candidate_group) == ("manager_approval", "managers")
    assert step.form_key == "new_hire_onboarding.manager_approval"
    assert instance.status == InstanceStatus.USER_INPUT_REQUIRED
    assert instance.data["full_name"] == "Wei Zhang"


def test_onboarding_creates_account_and_grants_vpn_when_employee_is_approved(
    request_onboarding, fake_operations
):
    instance = request_onboarding(employment_type="employee")

    instance.complete("manager_approval", {"manager_approved": True})

    assert instance.open_step_ids() == ["prepare_laptop"]
    assert instance.step("prepare_laptop").candidate_group == "it_support"
    assert instance.run_jobs(fake_operations) == ["create_accounts", "grant_vpn"]
    assert fake_operations.params("directory.create_account") == [
        {
            "username": "wei.zhang",
            "full_name": "Wei Zhang",
            "department": "engineering",
            "employment_type": "employee",
        }
    ]
    assert fake_operations.params("directory.grant_vpn") == [
        {"username": "wei.zhang", "profile": "staff"}
    ]


def test_onboarding_tells_hr_when_accounts_and_laptop_are_ready(
    request_onboarding, fake_operations
):
    instance = request_onboarding()
    instance.complete("manager_approval", {"manager_approved": True})
    instance.run_jobs(fake_operations)

    instance.complete("prepare_laptop", LAPTOP)

    assert instance.run_jobs(fake_operations) == ["notify_hr_ready"]
    (mail,) = fake_operations.params("mail.send")
    assert mail["to"] == "hr@example.com"
    assert mail["subject"] == "Onboarding ready: Wei Zhang"
    assert "wei.zhang@example.com" in mail["body"] and "LT-004211" in mail["body"]
    assert instance.status == InstanceStatus.COMPLETE
    assert instance.outcome == ("done", None)
    assert instance.next_timer_due() is None


def test_onboarding_waits_for_accounts_when_laptop_is_ready_first(
    request_onboarding, fake_operations
):
    instance = request_onboarding()
    instance.complete("manager_approval", {"manager_approved": True})

    instance.complete("prepare_laptop", LAPTOP)

    assert instance.open_step_ids() == []
    assert instance.status == InstanceStatus.RUNNING
    assert instance.run_jobs(fake_operations) == ["create_accounts", "grant_vpn", "notify_hr_ready"]
    assert instance.outcome == ("done", None)


def test_onboarding_skips_vpn_when_contractor_is_approved(request_onboarding, fake_operations):
    instance = request_onboarding(employment_type="contractor")
    instance.complete("manager_approval", {"manager_approved": True})
    instance.complete("prepare_laptop", LAPTOP)

    instance.run_jobs(fake_operations)

    assert fake_operations.called == ["directory.create_account", "mail.send"]
    assert fake_operations.params("directory.create_account")[0]["employment_type"] == "contractor"
    assert instance.outcome == ("done", None)


def test_onboarding_mails_hr_the_comment_when_manager_rejects(request_onboarding, fake_operations):
    instance = request_onboarding()

    instance.complete(
        "manager_approval", {"manager_approved": False, "manager_comment": "Headcount frozen"}
    )

    assert instance.open_step_ids() == []
    assert instance.run_jobs(fake_operations) == ["notify_rejection"]
    (mail,) = fake_operations.params("mail.send")
    assert mail["subject"] == "Onboarding rejected: Wei Zhang"
    assert "Comment: Headcount frozen" in mail["body"]
    assert fake_operations.called == ["mail.send"]
    assert instance.status == InstanceStatus.COMPLETE
    assert instance.outcome == ("rejected", "Headcount frozen")


def test_onboarding_arms_laptop_reminder_the_day_before_start(request_onboarding, fake_operations):
    instance = request_onboarding()
    assert instance.next_timer_due() is None

    instance.complete("manager_approval", {"manager_approved": True})

    expected = datetime.fromisoformat(days_before(START_DATE, 1))
    assert instance.next_timer_due() == expected
    assert expected == datetime(2099, 5, 31, 1, 0, tzinfo=UTC)
    assert instance.fire_timers() == []
    assert "remind_it" not in instance.run_jobs(fake_operations)


def test_onboarding_reminds_it_when_laptop_is_not_ready_the_day_before(
    request_onboarding, fake_operations
):
    today = datetime.now(UTC).date().isoformat()  # the reminder (yesterday 09:00 +08:00) is due
    instance = request_onboarding(start_date=today)
    instance.complete("manager_approval", {"manager_approved": True})

    ran = instance.run_jobs(fake_operations)

    assert "remind_it" in ran
    (reminder,) = fake_operations.params("notify.im")
    assert reminder["channel"] == "it_support"
    assert "Wei Zhang (wei.zhang)" in reminder["text"] and today in reminder["text"]
    assert instance.open_step_ids() == ["prepare_laptop"]
    instance.complete("prepare_laptop", LAPTOP)
    assert instance.run_jobs(fake_operations) == ["notify_hr_ready"]
    assert instance.outcome == ("done", None)
