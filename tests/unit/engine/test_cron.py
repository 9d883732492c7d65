"""engine.bpmn.cron: Quartz and plain cron cycles, their next times in the business zone, and a
cron boundary timer that fires, survives a save and fires once after being overdue."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.bpmn import cron, runtime, serializer
from engine.bpmn.runtime import InstanceStatus
from tests.unit.support import parse

# start -> wait (user task, with a non-interrupting cron timer on it) -> end; the timer -> nudged
BOUNDARY_BODY = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="wait" name="Wait"><bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="nudge" cancelActivity="false" attachedToRef="wait">
      <bpmn:outgoing>flow_3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="nudge_timer">
        <bpmn:timeCycle xsi:type="bpmn:tFormalExpression">{expression}</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="nudged"><bpmn:incoming>flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="wait" targetRef="end" />
    <bpmn:sequenceFlow id="flow_3" sourceRef="nudge" targetRef="nudged" />
"""


@pytest.fixture
def zone():
    before = cron._zone["value"]
    cron.set_zone(ZoneInfo("Asia/Shanghai"))
    yield
    cron.set_zone(before)


@pytest.fixture
def now(monkeypatch):
    """The time cron cycles see; set `now.value` to travel."""

    class Now:
        value = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # Wednesday 14:00 in Shanghai

    monkeypatch.setattr(cron, "_now", lambda: Now.value)
    return Now


@pytest.mark.parametrize(
    ("expression", "normalized"),
    [
        ("0 0/5 * * * ?", "0 0/5 * * * *"),
        ("0 0 9 ? * MON-FRI", "0 0 9 * * MON-FRI"),
        ("0 0 9 ? * 2-6", "0 0 9 * * 1-5"),  # Quartz 1 is Sunday
        ("0 0 9 ? * 6#3", "0 0 9 * * 5#3"),
        ("0 0 9 ? * 6L", "0 0 9 * * L5"),
        ("0 0 9 ? * L", "0 0 9 * * 6"),
        ("0 0 9 L * ?", "0 0 9 L * *"),
        ("0 0 9 15W * ?", "0 0 9 15W * *"),
        ("0 0 9 ? * MON-FRI *", "0 0 9 * * MON-FRI"),
        ("0 0 9 ? * MON-FRI 2026-2030", "0 0 9 * * MON-FRI 2026-2030"),
        ("*/5 * * * *", "0 */5 * * * *"),  # plain cron: no seconds, Sunday 0
        ("0 9 * * 1-5", "0 0 9 * * 1-5"),
    ],
)
def test_normalize_reads_quartz_and_plain_cron(expression, normalized):
    assert cron.normalize(expression) == normalized


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 9 ? * MON-FRI 2026,2028", "year '2026,2028' must be * or a year range"),
        ("0 0 9 ? * 0", "weekday 0 is not 1 (SUN) to 7 (SAT)"),
        ("0 61 9 * * ?", "cron cycle '0 61 9 * * ?' cannot be read"),
        ("0 0 9 LW * ?", "cron cycle '0 0 9 LW * ?' cannot be read"),
        ("every day at nine am", "cron cycle 'every day at nine am' cannot be read"),
        ("0 0 9 30 2 ?", "cron cycle '0 0 9 30 2 ?' never fires"),
        ("0 0 9 * * ? 2001-2002", "never fires"),  # no longer
    ],
)
def test_check_names_what_cannot_run(expression, message):
    assert message in cron.check(expression)


def test_check_accepts_what_runs():
    assert cron.check("0 0 9 ? * MON-FRI") is None


def test_next_fire_is_in_the_business_zone(zone):
    after = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # Wednesday 14:00 in Shanghai

    assert cron.next_fire("0 0 9 * * MON-FRI", after) == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    friday = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert cron.next_fire("0 0 9 * * MON-FRI", friday) == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    assert cron.next_fire(cron.normalize("0 0/5 * * * ?"), after) == datetime(
        2026, 12, 2, 6, 5, tzinfo=UTC
    )


def test_next_fire_follows_the_zone_setting():
    before = cron._zone["value"]
    cron.set_zone(ZoneInfo("Europe/Berlin"))
    try:
        after = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
        assert cron.next_fire("0 0 9 * * *", after) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    finally:
        cron.set_zone(before)


def test_next_fire_is_none_after_the_year_range():
    after = datetime(2031, 1, 1, tzinfo=UTC)

    assert cron.next_fire("0 0 9 * * * 2026-2030", after) is None


def _nudges(workflow) -> int:
    """How often the cycle has fired: the end events its fires reached."""
    return len(workflow.get_tasks(spec_name="nudged"))


def _reload(workflow, parsed):
    return serializer.loads(
        serializer.dumps(workflow), parsed.spec, parsed.subprocess_specs, runtime.SCRIPT_ENGINE
    )


def test_cron_boundary_timer_fires_at_its_times_across_saves(zone, now):
    parsed = parse(BOUNDARY_BODY.format(expression="0 0 9 ? * MON-FRI"))
    workflow = runtime.start(parsed.spec, parsed.subprocess_specs, {})
    thursday_nine = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert runtime.next_timer_due(workflow) == thursday_nine
    assert runtime.fire_timers(workflow) == []

    now.value = datetime(2026, 12, 3, 1, 0, 1, tzinfo=UTC)
    workflow = _reload(workflow, parsed)
    assert runtime.fire_timers(workflow) == ["nudge"]
    assert _nudges(workflow) == 1
    assert runtime.next_timer_due(workflow) == datetime(2026, 12, 4, 1, 0, tzinfo=UTC)

    now.value = datetime(2026, 12, 4, 1, 0, 1, tzinfo=UTC)
    workflow = _reload(workflow, parsed)
    assert runtime.fire_timers(workflow) == ["nudge"]
    assert _nudges(workflow) == 2
    assert runtime.next_timer_due(workflow) == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday
    assert runtime.status_of(workflow) == InstanceStatus.USER_INPUT_REQUIRED


def test_cron_timer_overdue_while_down_fires_once(zone, now):
    parsed = parse(BOUNDARY_BODY.format(expression="0 0/5 * * * ?"))
    workflow = runtime.start(parsed.spec, parsed.subprocess_specs, {})
    stored = serializer.dumps(workflow)

    now.value = datetime(2026, 12, 2, 9, 2, tzinfo=UTC)  # three hours of fires missed
    workflow = serializer.loads(stored, parsed.spec, parsed.subprocess_specs, runtime.SCRIPT_ENGINE)
    assert runtime.fire_timers(workflow) == ["nudge"]
    assert runtime.fire_timers(workflow) == []
    assert _nudges(workflow) == 1
    assert runtime.next_timer_due(workflow) == datetime(2026, 12, 2, 9, 5, tzinfo=UTC)


def test_iso_cycle_still_runs_as_the_library_does(now):
    parsed = parse(BOUNDARY_BODY.format(expression='"R2/PT1H"'))
    workflow = runtime.start(parsed.spec, parsed.subprocess_specs, {})

    value = workflow.get_next_task(spec_name="nudge").internal_data["event_value"]

    assert value["cycles"] == 2 and value["duration"] == 3600 and "cron" not in value
