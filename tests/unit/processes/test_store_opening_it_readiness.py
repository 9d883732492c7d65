"""store_opening_it_readiness: plan review, regional steps, status report and day-before check."""

from datetime import UTC, datetime, timedelta

import pytest

from engine.bpmn.runtime import InstanceStatus
from engine.bpmn.scripting import days_before
from tests.unit.support import StoredInstance

OPENING_DATE = "2099-06-01"  # far enough ahead that no boundary timer fires in a test
REQUEST = {
    "store_id": "S0123",
    "store_name": "Chengdu Taikoo Li",
    "region": "west",
    "address": "1 Zhongshamao Street, Jinjiang",
    "opening_date": OPENING_DATE,
    "contact_phone": "+86 138 0013 8000",
}
APPROVE = {"plan_approved": True}
READINESS = {
    "network_line": {"line_provider": "china_telecom", "line_id": "CT-SH-7", "bandwidth_mbps": 200},
    "pos_setup": {"pos_terminals": 4, "pos_tested": True},
    "cctv_setup": {"cameras": 12, "recorder_serial": "DS7608-1"},
}
REGIONAL_STEPS = ["cctv_setup", "network_line", "pos_setup"]


@pytest.fixture
def request_opening(library, forms):
    def start(**changes) -> StoredInstance:
        parsed = library.get("store_opening_it_readiness")
        return StoredInstance(parsed, {**REQUEST, **changes}, forms)

    return start


def days_from_today(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def test_store_opening_waits_for_it_leads_when_requested(request_opening):
    instance = request_opening()

    (step,) = instance.open_steps()
    assert (step.bpmn_id, step.candidate_group) == ("plan_review", "it_leads")
    assert instance.data["regional_group"] == "it_west"
    assert instance.next_timer_due() is None


@pytest.mark.parametrize("region", ["north", "east", "south", "west"])
def test_store_opening_gives_regional_steps_to_region_group_when_plan_is_approved(
    request_opening, region
):
    instance = request_opening(region=region)

    instance.complete("plan_review", APPROVE)

    steps = instance.open_steps()
    assert sorted(step.bpmn_id for step in steps) == REGIONAL_STEPS
    assert {step.candidate_group for step in steps} == {f"it_{region}"}
    assert {step.form_key for step in steps} == {
        f"store_opening_it_readiness.{bpmn_id}" for bpmn_id in REGIONAL_STEPS
    }


def test_store_opening_announces_readiness_when_every_regional_step_is_done(
    request_opening, fake_operations
):
    instance = request_opening()
    instance.complete("plan_review", APPROVE)

    for bpmn_id in ["pos_setup", "network_line", "cctv_setup"]:
        assert instance.run_jobs(fake_operations) == []
        instance.complete(bpmn_id, READINESS[bpmn_id])

    assert instance.run_jobs(fake_operations) == ["announce_ready"]
    (announcement,) = fake_operations.params("notify.im")
    assert announcement["channel"] == "store_ops"
    assert "CT-SH-7 (200 Mbps), 4 POS terminals, 12 cameras" in announcement["text"]
    assert instance.status == InstanceStatus.COMPLETE
    assert instance.outcome == ("done", None)
    assert instance.next_timer_due() is None


def test_store_opening_tells_store_ops_the_reason_when_plan_is_rejected(
    request_opening, fake_operations
):
    instance = request_opening()

    instance.complete("plan_review", {"plan_approved": False, "plan_comment": "No budget yet"})

    assert instance.open_step_ids() == []
    assert instance.run_jobs(fake_operations) == ["notify_plan_rejected"]
    (message,) = fake_operations.params("notify.im")
    assert message["channel"] == "store_ops"
    assert message["text"].endswith("was rejected. Reason: No budget yet")
    assert instance.outcome == ("rejected", "No budget yet")


def test_store_opening_arms_status_report_three_days_before_opening(request_opening):
    instance = request_opening()

    instance.complete("plan_review", APPROVE)

    assert instance.next_timer_due() == datetime.fromisoformat(days_before(OPENING_DATE, 3))
    assert instance.fire_timers() == []


def test_store_opening_reports_open_steps_and_arms_day_before_check_when_three_days_left(
    request_opening, fake_operations
):
    opening_date = days_from_today(2)  # D-3 lies in the past, D-1 tomorrow
    instance = request_opening(opening_date=opening_date)

    instance.complete("plan_review", APPROVE)

    assert instance.run_jobs(fake_operations) == ["send_status_report"]
    (report,) = fake_operations.params("notify.im")
    assert report["channel"] == "it_west"
    assert report["text"].endswith(
        f"opening {opening_date}: open steps: network_line, pos_setup, cctv_setup."
    )
    assert instance.next_timer_due() == datetime.fromisoformat(days_before(opening_date, 1))
    assert instance.open_step_ids() == REGIONAL_STEPS


def test_store_opening_asks_it_leads_to_escalate_when_steps_are_open_the_day_before(
    request_opening, fake_operations
):
    instance = request_opening(opening_date=days_from_today(0))  # D-3 and D-1 both passed

    instance.complete("plan_review", APPROVE)

    assert instance.open_step_ids() == sorted(["escalation_review", *REGIONAL_STEPS])
    assert instance.step("escalation_review").candidate_group == "it_leads"
    instance.complete("escalation_review", {"escalation_action": "send_extra_staff"})
    for bpmn_id in REGIONAL_STEPS:
        instance.complete(bpmn_id, READINESS[bpmn_id])
    assert sorted(instance.run_jobs(fake_operations)) == ["announce_ready", "send_status_report"]
    assert instance.data["escalation_action"] == "send_extra_staff"
    assert instance.status == InstanceStatus.COMPLETE
