"""How requests read to people: step names in their language, who holds what, the timeline."""

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin import formview
from admin.web import lang, pick
from engine import timeline

STATUS = {  # instance status -> (label, badge colour)
    "running": (_l("In progress"), "blue"),
    "user_input_required": (_l("In progress"), "blue"),
    "waiting": (_l("Waiting"), "blue"),
    "complete": (_l("Done"), "green"),
    "rejected": (_l("Rejected"), "red"),
    "cancelled": (_l("Cancelled"), "grey"),
    "error": (_l("Needs attention"), "amber"),
}
EVENT_LABELS = {
    "started": _l("Request submitted"),
    "task_completed": _l("Step completed"),
    "task_claimed": _l("Step taken"),
    "task_unclaimed": _l("Step given back"),
    "task_reassigned": _l("Step reassigned"),
    "job_done": _l("Automated step done"),
    "job_retry": _l("Automated step will retry"),
    "job_failed": _l("Automated step failed"),
    "incident": _l("Automated step failed"),
    "incident_retried": _l("Failed step retried"),
    "incident_skipped": _l("Failed step skipped"),
    "timer_fired": _l("Timer fired"),
    "failed": _l("Request stopped by an error"),
    "cancelled": _l("Request cancelled"),
    "completed": _l("Request finished"),
    "commented": _l("Comment added"),
    "advanced": _l("Moved on"),
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
REJECTION_WORDS = ("reject", "declin", "denied", "refus")


def status_key(instance) -> str:
    """The instance status, with finished-by-rejection told apart from done."""
    if instance.status == "complete" and any(
        word in (instance.outcome or "").lower() for word in REJECTION_WORDS
    ):
        return "rejected"
    return instance.status


def status(instance) -> dict:
    key = status_key(instance)
    label, colour = STATUS.get(key, (key, "grey"))
    return {"key": key, "label": str(label), "colour": colour}


def offering_names(versions_list) -> dict[str, str]:
    return {v.process_key: pick({"en": v.meta.get("name_en"), "zh": v.meta.get("name_zh")},
                                v.process_key) for v in versions_list}  # fmt: skip


def step_name(infos: dict, bpmn_id: str | None, fallback: str = "", version=None) -> str:
    """A step's name in the reader's language: name_zh property, its form's title, BPMN name."""
    info = infos.get(bpmn_id or "")
    if info is None:
        return fallback or (bpmn_id or "")
    if lang() == "zh" and info.name_zh:
        return info.name_zh
    if info.form_key and version is not None:
        form = formview.resolve(version, info.form_key)
        if form is not None and form.title:
            return pick(form.title, info.name)
    return info.name


def task_name(task) -> str:
    """An open or done step's name in the reader's language (its form's title, else BPMN)."""
    form = formview.resolve(task.instance.process_version, task.form_key)
    return pick(form.title, task.name) if form is not None and form.title else task.name


def group_name(groups: dict, key: str | None, lane: str | None = None) -> str:
    group = groups.get(key or "")
    if group is not None:
        return group.name_zh if lang() == "zh" else group.name_en
    slug = (lane or "").lower().replace(" ", "_")
    group = groups.get(slug)
    if group is not None:
        return group.name_zh if lang() == "zh" else group.name_en
    return lane or (key or "").replace("_", " ").title()


def holder(task, groups: dict) -> str:
    if task.assignee is not None:
        return task.assignee.display_name
    return group_name(groups, task.candidate_group, task.lane)


@dataclass
class Entry:
    """One line of the timeline."""

    state: str  # done, auto, current, next, error, cancelled, end
    title: str
    who: str = ""
    at: object = None
    note: str = ""
    due: object = None
    tone: str = ""  # approved, rejected
    extra: dict = field(default_factory=dict)


def approval_result(version, task, data: dict) -> tuple[bool, str] | None:
    """(approved?, comment) when the step's form is an approval form and data holds the answer."""
    form = formview.resolve(version, task.form_key)
    if form is None:
        return None
    pair = formview.approval(formview.fields_for(form, lang()))
    if pair is None or not isinstance(data.get(pair[0].key), bool):
        return None
    return data[pair[0].key], str(data.get(pair[1].key) or "")


def outcome(instance, data: dict, done_tasks: list, events: list) -> dict | None:
    """The final outcome stated plainly: done, rejected (reason, by whom), cancelled, failed."""
    key = status_key(instance)
    if instance.status == "complete":
        for task in reversed(done_tasks):
            result = approval_result(instance.process_version, task, data)
            if result is not None and result[0] is False:
                by = task.completed_by.display_name if task.completed_by else ""
                return {"key": "rejected", "reason": result[1], "by": by,
                        "at": instance.completed_at}  # fmt: skip
        return {"key": key, "reason": "", "by": "", "at": instance.completed_at}
    if instance.status == "cancelled":
        event = next((e for e in reversed(events) if e.kind == "cancelled"), None)
        return {
            "key": "cancelled",
            "reason": (event.payload or {}).get("reason", "") if event else "",
            "by": event.actor.display_name if event and event.actor else "",
            "at": instance.completed_at,
        }
    if instance.status == "error":
        return {"key": "error", "reason": "", "by": "", "at": instance.updated_at}
    return None


def build_timeline(instance, *, events, done_tasks, open_tasks, snap, infos, groups) -> list:
    """Steps done (who, when), the step it is in now and who holds it, then what comes next."""
    version = instance.process_version
    by_bpmn = {}
    for task in done_tasks:
        by_bpmn.setdefault(task.bpmn_id, []).append(task)
    entries: list[Entry] = []
    for event in events:
        who = event.actor.display_name if event.actor else ""
        if event.kind == "started":
            entries.append(Entry("done", _("Request submitted"), who, event.created_at))
        elif event.kind == "task_completed":
            name = step_name(infos, event.bpmn_id, (event.payload or {}).get("name", ""), version)
            entry = Entry("done", name, who, event.created_at)
            task = _pop_task(by_bpmn, event.bpmn_id)
            result = approval_result(version, task, snap.data) if task else None
            if result is not None:
                entry.tone = "approved" if result[0] else "rejected"
                entry.note = result[1]
            entries.append(entry)
        elif event.kind in ("job_done", "timer_fired"):
            name = step_name(infos, event.bpmn_id, event.bpmn_id or "", version)
            entries.append(Entry("auto", name, _("Automatic"), event.created_at))
        elif event.kind in timeline.FAILURE_EVENTS:
            name = step_name(infos, event.bpmn_id, "", version) if event.bpmn_id else ""
            entries.append(Entry("error", name or _("A step failed"), "", event.created_at,
                                 note=_("The service team has been told.")))  # fmt: skip
    for task in open_tasks:
        entries.append(
            Entry(
                "current",
                step_name(infos, task.bpmn_id, task.name, version),
                holder(task, groups),
                task.created_at,
                due=task.due_at,
                extra={"assigned": task.assignee is not None},
            )  # fmt: skip
        )
    if instance.status == "running" and not open_tasks:
        entries.append(Entry("current", _("Being processed automatically"), "", None))
    # What comes next, as people read it: the human steps on the main path, in process order
    # (a subprocess that comes next brings its steps). Automated steps and those behind a
    # reminder or escalation show up once they have happened.
    current_ids = {t.bpmn_id for t in open_tasks}
    upcoming = {step["bpmn_id"] for step in snap.upcoming}
    for step in timeline.outline(version):
        info = step["info"]
        if step["conditional"] or info.bpmn_id in current_ids:
            continue
        if info.bpmn_id in upcoming or step["parent"] in upcoming:
            name = step_name(infos, info.bpmn_id, info.name, version)
            entries.append(Entry("next", name, group_name(groups, None, info.lane)))
    return entries


def _pop_task(by_bpmn: dict, bpmn_id):
    tasks = by_bpmn.get(bpmn_id)
    return tasks.pop(0) if tasks else None


def data_sections(instance, data: dict, done_tasks: list, start_form_key: str | None) -> list:
    """The request's data grouped by the form that collected it: start form, then each step."""
    version = instance.process_version
    sections, shown = [], set()
    for form_key in [start_form_key, *(t.form_key for t in done_tasks)]:
        form = formview.resolve(version, form_key)
        if form is None or form_key in shown:
            continue
        shown.add(form_key)
        fields = [f for f in formview.fields_for(form, lang()) if f.key in data]
        if fields:
            sections.append({"title": pick(form.title, form_key), "fields": fields})
    return sections


def rejection_hint(fields) -> str:
    pair = formview.approval(fields)
    return pair[1].key if pair else ""


def files_in(data: dict) -> set[int]:
    return timeline.referenced_attachment_ids(data)
