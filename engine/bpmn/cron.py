"""Cron cycles in `timeCycle`, as Camunda 7 / Flowable (Quartz) and plain cron write them.

A 5-field expression is plain cron (minute hour day month weekday, Sunday 0). A 6- or 7-field one
is Quartz: seconds first, weekdays 1 (Sunday) to 7, an optional year last. `?` means `*`.
croniter evaluates them in the business time zone (engine/clock.py's, which the app factory
hands to set_zone); a cycle timer whose expression is cron fires at each of its next times, for
ever (or to the end of its year range).
"""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)

SHAPE = re.compile(r"^\S+(\s+\S+){4,6}$")
_YEARS = re.compile(r"^\d{4}(-\d{4})?$")
_QUARTZ_DAY = re.compile(r"(?<![#/\d])(\d+)")
_zone = {"value": ZoneInfo("Asia/Shanghai")}  # engine.clock's default, until it sets its own


def set_zone(zone: ZoneInfo) -> None:
    """The business time zone cron cycles are read in (the app factory sets engine.clock's)."""
    _zone["value"] = zone


class CronError(ValueError):
    """An expression that is not a cron FlowDesk can run; the message says why."""


def is_cron(text) -> bool:
    """Whether a timeCycle value is written as cron (5 to 7 fields) rather than ISO 8601."""
    return isinstance(text, str) and bool(SHAPE.match(text.strip()))


def normalize(text: str) -> str:
    """Return the croniter form (seconds first) of a cron or Quartz expression.

    Raises:
        CronError: a year field other than * or a year range, a weekday outside 1-7, or an
            expression croniter cannot parse or that never fires.
    """
    fields = text.split()
    if not 5 <= len(fields) <= 7:
        raise CronError(f"cron cycle '{text}' needs 5 to 7 fields")
    fields = [("*" if f == "?" else f) for f in fields]
    if len(fields) == 5:
        fields.insert(0, "0")
    else:
        fields[5] = _quartz_weekdays(text, fields[5])
    if len(fields) == 7:
        if fields[6] == "*":
            fields.pop()
        elif not _YEARS.match(fields[6]):
            raise CronError(
                f"cron cycle '{text}': year '{fields[6]}' must be * or a year range such as"
                " 2026-2030"
            )
    expression = " ".join(fields)
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC), second_at_beginning=True)
    except CroniterError as exc:
        raise CronError(f"cron cycle '{text}' cannot be read: {exc}") from exc
    return expression


def check(text: str) -> str | None:
    """The problem with a cron timeCycle at deploy time, or None when it will fire."""
    try:
        expression = normalize(text)
    except CronError as exc:
        return str(exc)
    try:
        _croniter(expression, _now()).get_next(datetime)
    except CroniterBadDateError:
        return f"cron cycle '{text}' never fires"
    return None


def _quartz_weekdays(text: str, field: str) -> str:
    """Quartz counts weekdays 1 (Sunday) to 7; croniter 0 to 6. `nL` (last n-day) is croniter's
    `Ln`, a bare `L` Saturday."""
    if field.upper() == "L":
        return "6"

    def shift(match):
        day = int(match.group(1))
        if not 1 <= day <= 7:
            raise CronError(f"cron cycle '{text}': weekday {day} is not 1 (SUN) to 7 (SAT)")
        return str(day - 1)

    return re.sub(r"(\d)[Ll]$", r"L\1", _QUARTZ_DAY.sub(shift, field))


def _croniter(expression: str, after: datetime) -> croniter:
    return croniter(expression, after.astimezone(_zone["value"]), second_at_beginning=True)


def next_fire(expression: str, after: datetime) -> datetime | None:
    """The first time after `after` that a normalized expression names (UTC), or None if none."""
    try:
        return _croniter(expression, after).get_next(datetime).astimezone(UTC)
    except CroniterBadDateError:
        return None


def _now() -> datetime:
    return datetime.now(UTC)


class FlowDeskCycleTimerEventDefinition(CycleTimerEventDefinition):
    """The library's cycle timer, which also runs cron cycles.

    An armed cron cycle stores `{cycles: -1, next, duration: 0, cron}` (`cycles` 0 once a year range
    has passed), the library's own shape plus the expression, so next_timer_due() and details()
    read it as any cycle. At each fire the next time is computed after now: a cycle missed while
    everything was down fires once, then at its next time.
    """

    def cycle_complete(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if not is_cron(expression):
                cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(
                    expression
                )
                event_value = {
                    "cycles": cycles,
                    "next": start.isoformat(),
                    "duration": duration.total_seconds(),
                }
                my_task._set_internal_data(event_value=event_value)
                return super().cycle_complete(my_task)
            cron = normalize(expression.strip())
            event_value = {"cycles": -1, "next": None, "duration": 0, "cron": cron}
            _advance(event_value, _now())
        elif "cron" not in event_value:
            return super().cycle_complete(my_task)
        ready = False
        now = _now()
        if event_value["cycles"] != 0:
            if datetime.fromisoformat(event_value["next"]) < now:
                _advance(event_value, now)
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
            return ready
        my_task._set_internal_data(event_value=event_value)
        return ready


def _advance(event_value: dict, now: datetime) -> None:
    following = next_fire(event_value["cron"], now)
    if following is None:
        event_value["cycles"], event_value["next"] = 0, None
    else:
        event_value["next"] = following.isoformat()


def adopt(*specs) -> None:
    """Make the cycle timers of parsed process specs FlowDesk's, which also run cron."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if type(definition) is CycleTimerEventDefinition:
                task_spec.event_definition = _adopted(definition)
            for i, inner in enumerate(getattr(definition, "event_definitions", None) or []):
                if type(inner) is CycleTimerEventDefinition:
                    definition.event_definitions[i] = _adopted(inner)


def _adopted(definition: CycleTimerEventDefinition) -> FlowDeskCycleTimerEventDefinition:
    adopted = FlowDeskCycleTimerEventDefinition(definition.name, definition.expression)
    adopted.__dict__.update(definition.__dict__)
    return adopted
