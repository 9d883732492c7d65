"""How requests read to people: names in their language, who holds what, the timeline.

Presentation only: the outcome, decisions and step names come from the domain (engine/); this
module puts them into words and badges.
"""

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin import formview
from admin.web import lang, pick
from engine.catalog import reads as catalog
from engine.instances.models import (
    FAILURE_EVENTS,
    RESOLUTION_EVENTS,
    Decision,
    EventKind,
    InstanceStatus,
    Outcome,
)
from engine.instances.reads import OutcomeView

STATUS = {  # status key -> (label, badge colour)
    "running": (_l("In progress"), "blue"),
    "user_input_required": (_l("In progress"), "blue"),
    "waiting": (_l("Waiting"), "blue"),
    "complete": (_l("Done"), "green"),
    "rejected": (_l("Rejected"), "red"),
    "cancelled": (_l("Cancelled"), "grey"),
    "error": (_l("Needs attention"), "amber"),
}
EVENT_LABELS = {
    EventKind.STARTED: _l("Request submitted"),
    EventKind.TASK_COMPLETED: _l("Step completed"),
    EventKind.TASK_CLAIMED: _l("Step taken"),
    EventKind.TASK_UNCLAIMED: _l("Step given back"),
    EventKind.TASK_REASSIGNED: _l("Step reassigned"),
    EventKind.JOB_DONE: _l("Automated step done"),
    EventKind.JOB_RETRY: _l("Automated step will retry"),
    EventKind.JOB_ERROR_CAUGHT: _l("Automated step reported an error"),
    EventKind.STEP_FAILED: _l("Automated step failed"),
    EventKind.STEP_RETRIED: _l("Failed step retried"),
    EventKind.STEP_CORRECTED: _l("Failed step corrected and retried"),
    EventKind.STEP_SKIPPED: _l("Failed step skipped"),
    EventKind.TIMER_FIRED: _l("Timer fired"),
    EventKind.FAILED: _l("Request stopped by an error"),
    EventKind.CANCELLED: _l("Request cancelled"),
    EventKind.COMPLETED: _l("Request finished"),
    EventKind.COMMENTED: _l("Comment added"),
}
JOB_LABELS = {
    "queued": _l("Queued"),
    "running": _l("Running"),
    "done": _l("Done"),
    "failed": _l("Failed"),
    "retry": _l("Will retry"),
    "skipped": _l("Skipped"),
    "cancelled": _l("Cancelled"),
}
_OUTCOME_KEYS = {  # the domain's outcome -> the banner it gets
    Outcome.DONE: "complete",
    Outcome.APPROVED: "complete",
    Outcome.REJECTED: "rejected",
    Outcome.CANCELLED: "cancelled",
    Outcome.FAILED: "error",
}


def status(instance) -> dict:
    """The badge of a request: its status, with a rejection told apart from done."""
    key = instance.status
    if key == InstanceStatus.COMPLETE and instance.outcome == Outcome.REJECTED:
        key = "rejected"
    label, colour = STATUS.get(key, (key, "grey"))
    return {"key": key, "label": str(label), "colour": colour}


def title(instance) -> str:
    return instance.title_in(lang())


def offering_names(versions=None) -> dict[str, str]:
    return {key: names[lang()] for key, names in catalog.offering_names(versions).items()}


def step_name(steps: dict, bpmn_id: str | None, fallback: str = "") -> str:
    """A step's name in the reader's language (its name_zh, its form's title, its BPMN name)."""
    step = steps.get(bpmn_id or "")
    return step.name(lang()) if step is not None else (fallback or bpmn_id or "")


def task_name(task) -> str:
    """An open or done step's name in the reader's language."""
    return step_name(catalog.steps(task.instance.process_version), task.bpmn_id, task.name)


def group_name(groups: dict, key: str | None, lane: str | None = None, version=None) -> str:
    """A group's name in the reader's language; else its lane's (`name_zh`), else the key."""
    group = groups.get(key or "") or groups.get((lane or "").lower().replace(" ", "_"))
    if group is not None:
        return group.name(lang())
    lanes = version.meta.get("lanes", {}) if version is not None else {}
    if lane and lane in lanes:
        return pick(lanes[lane], lane)
    return lane or (key or "").replace("_", " ").title()


def holder(task, groups: dict) -> str:
    if task.assignee is not None:
        return task.assignee.display_name
    return group_name(groups, task.candidate_group, task.lane, task.instance.process_version)


def outcome(view: OutcomeView | None) -> dict | None:
    """The outcome banner: complete, rejected (reason, by whom), cancelled, error."""
    if view is None:
        return None
    return {
        "key": _OUTCOME_KEYS[view.key],
        "reason": view.reason,
        "by": view.by.display_name if view.by else "",
        "at": view.at,
    }


@dataclass
class Entry:
    """One line of the timeline."""

    state: str  # done, auto, current, next, error, resolved, cancelled, end
    title: str
    who: str = ""
    at: object = None
    note: str = ""
    due: object = None
    tone: str = ""  # approved, rejected
    extra: dict = field(default_factory=dict)


def build_timeline(instance, *, events, open_tasks, snap, groups) -> list:
    """Steps done (who, when), the step it is in now and who holds it, then what comes next."""
    version = instance.process_version
    steps = catalog.steps(version)
    entries: list[Entry] = []
    failures: dict[str | None, Entry] = {}
    for event in events:
        who = event.actor.display_name if event.actor else ""
        payload = event.payload or {}
        if event.kind == EventKind.STARTED:
            entries.append(Entry("done", _("Request submitted"), who, event.created_at))
        elif event.kind == EventKind.TASK_COMPLETED:
            entry = Entry(
                "done",
                step_name(steps, event.bpmn_id, payload.get("name", "")),
                who,
                event.created_at,
            )
            if payload.get("decision") in (Decision.APPROVED, Decision.REJECTED):
                entry.tone, entry.note = payload["decision"], payload.get("comment") or ""
            entries.append(entry)
        elif event.kind in (EventKind.JOB_DONE, EventKind.TIMER_FIRED):
            name = step_name(steps, event.bpmn_id, event.bpmn_id or "")
            entries.append(Entry("auto", name, _("Automatic"), event.created_at))
        elif event.kind in FAILURE_EVENTS:
            name = step_name(steps, event.bpmn_id) if event.bpmn_id else ""
            entry = Entry(
                "error",
                name or _("A step failed"),
                "",
                event.created_at,
                note=_("The service team has been told."),
            )
            failures[event.bpmn_id] = entry
            entries.append(entry)
        elif event.kind in RESOLUTION_EVENTS and event.bpmn_id in failures:
            failed = failures.pop(event.bpmn_id)
            failed.state = "resolved"
            failed.note = str(EVENT_LABELS[event.kind])
    for task in open_tasks:
        entries.append(
            Entry(
                "current",
                step_name(steps, task.bpmn_id, task.name),
                holder(task, groups),
                task.created_at,
                due=task.due_at,
                extra={"assigned": task.assignee is not None},
            )
        )
    if instance.status == InstanceStatus.RUNNING and not open_tasks:
        entries.append(Entry("current", _("Being processed automatically"), "", None))
    # What comes next, as people read it: the human steps on the main path, in process order
    # (a subprocess that comes next brings its steps). Automated steps and those behind a
    # reminder or escalation show up once they have happened.
    current_ids = {t.bpmn_id for t in open_tasks}
    upcoming = {step["bpmn_id"] for step in snap.upcoming}
    for step in catalog.human_steps(version):
        spec = step.spec
        if spec.conditional or spec.bpmn_id in current_ids:
            continue
        if spec.bpmn_id in upcoming or spec.parent in upcoming:
            entries.append(
                Entry("next", step.name(lang()), group_name(groups, None, spec.lane, version))
            )
    return entries


def data_sections(instance, data: dict, done_tasks: list) -> list:
    """The request's data grouped by the form that collected it: start form, then each step."""
    version = instance.process_version
    sections, shown = [], set()
    for form_key in [version.meta.get("start_form"), *(t.form_key for t in done_tasks)]:
        form = catalog.form_of(version, form_key)
        if form is None or form_key in shown:
            continue
        shown.add(form_key)
        fields = [f for f in formview.fields_for(form, lang()) if f.key in data]
        if fields:
            sections.append({"title": pick(form.title, form_key), "fields": fields})
    return sections
