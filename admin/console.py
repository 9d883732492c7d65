"""The console for agents and admins: a request on its BPMN diagram, and failed steps."""

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin import formview, present
from admin.portal import PAGE_SIZE, dispatcher, page_number, request_view
from admin.web import add_error_pages, lang, me, pick, requires, safe_next, vendor_available
from engine.automation import reads as automation_reads
from engine.automation import service as automation
from engine.catalog import diagrams
from engine.catalog import reads as catalog
from engine.errors import Conflict, InvalidInput
from engine.identity import reads as identity
from engine.identity.roles import Capability
from engine.instances import access, reads
from engine.instances import service as instances
from engine.instances.models import OPEN_JOBS

blp = Blueprint("console", __name__, url_prefix="/console")
add_error_pages(blp)


@blp.get("/requests/<int:instance_id>")
@requires(Capability.VIEW_DIAGRAMS)
def instance_page(instance_id):
    instance = access.visible_instance(me(), instance_id)
    view = request_view(instance)
    steps = view["steps"]
    history = [
        {
            "event": e,
            "what": present.EVENT_LABELS.get(e.kind, e.kind),
            "step": present.step_name(steps, e.bpmn_id) if e.bpmn_id else "",
            "detail": (e.payload or {}).get("error")
            or (e.payload or {}).get("reason")
            or (e.payload or {}).get("comment")
            or "",
        }
        for e in view["events"]
    ]
    open_steps = [
        {"task": t, "name": present.task_name(t), "who": present.holder(t, view["groups"])}
        for t in view["open_tasks"]
    ]
    states = dict(view["snap"].states)
    for step in view["snap"].upcoming:
        states.setdefault(step["bpmn_id"], "next")
    return render_template(
        "console/instance.html",
        states=states,
        jobs=reads.jobs(instance.id),
        viewer=vendor_available(),
        history=history,
        step_name=lambda bpmn_id: present.step_name(steps, bpmn_id),
        open_steps=open_steps,
        job_labels=present.JOB_LABELS,
        can_cancel=access.can_cancel(me(), instance),
        **view,
    )


@blp.get("/requests/<int:instance_id>/diagram.bpmn")
@requires(Capability.VIEW_DIAGRAMS)
def diagram(instance_id):
    """The BPMN XML of the instance's own process version, labelled in the reader's language."""
    instance = access.visible_instance(me(), instance_id)
    names = {key: group.name(lang()) for key, group in identity.groups().items()}
    return Response(
        diagrams.diagram(instance.process_version, lang(), names), mimetype="application/xml"
    )


@blp.get("/failed")
@requires(Capability.HANDLE_FAILED_STEPS)
def failed():
    query = automation_reads.failed_instances_query(offerings=access.scoped_offerings(me()))
    items, total = reads.page(query, page_number(), PAGE_SIZE)
    ids = [i.id for i in items]
    jobs = automation_reads.failed_jobs(ids)
    failures = automation_reads.last_failures(ids)
    names = present.offering_names()
    rows = [
        {
            "instance": instance,
            "jobs": [_failed_job(job) for job in jobs[instance.id]],
            "failure": failures.get(instance.id),
            "offering": names.get(instance.offering_key, instance.offering_key),
        }
        for instance in items
    ]
    retried = [
        {
            "event": event,
            "job": job,
            "instance": job.instance,
            "name": present.step_name(catalog.steps(job.instance.process_version), job.bpmn_id),
        }
        for event, job in automation_reads.recently_retried()
    ]
    return render_template(
        "console/failed.html",
        rows=rows,
        retried=retried,
        waiting=any(r["job"].status in OPEN_JOBS for r in retried),
        job_labels=present.JOB_LABELS,
        total=total,
        page=page_number(),
        pages=reads.pages(total, PAGE_SIZE),
    )


def _back():
    return redirect(safe_next(request.form.get("next")) or url_for(".failed"))


def _failed_job(job) -> dict:
    """A failed step as the page shows it: its name, what it reads, where its result goes."""
    step = catalog.steps(job.instance.process_version).get(job.bpmn_id)
    inputs = [
        dict(
            i,
            label=pick(i["label"], i["name"]),
            options=[(o["value"], pick(o["label"], str(o["value"]))) for o in i["options"]],
        )
        for i in automation_reads.step_inputs(job)
    ]
    return {
        "job": job,
        "name": step.name(lang()) if step else job.bpmn_id,
        "inputs": inputs,
        "result_variable": step.spec.result_variable if step else None,
    }


@blp.post("/jobs/<int:job_id>/retry")
@requires(Capability.HANDLE_FAILED_STEPS)
def retry(job_id):
    try:
        automation.retry_failed_step(job_id, user=me(), dispatch=dispatcher())
        flash(
            _("The step is queued to run again; its result shows below when it comes."), "success"
        )
    except Conflict:
        flash(_("This step is no longer failed."), "error")
    return _back()


@blp.post("/jobs/<int:job_id>/correct")
@requires(Capability.HANDLE_FAILED_STEPS)
def correct(job_id):
    """Correct the data the failed step reads (fields typed by the admin) and run it again."""
    changes = {
        key.removeprefix("data."): value.strip()
        for key, value in request.form.items()
        if key.startswith("data.")
    }
    try:
        automation.correct_failed_step(job_id, changes, user=me(), dispatch=dispatcher())
        flash(
            _("The corrected step will run again; its result shows below when it comes."), "success"
        )
    except InvalidInput as exc:
        problems = formview.messages(exc, lang())
        text = "; ".join(f"{name}: {' '.join(items)}" for name, items in problems.items())
        flash(_("The correction was not accepted: %(problems)s", problems=text), "error")
    except Conflict:
        flash(_("This step is no longer failed."), "error")
    return _back()


@blp.post("/jobs/<int:job_id>/skip")
@requires(Capability.HANDLE_FAILED_STEPS)
def skip(job_id):
    """Continue the request as if the step had returned the result typed by the admin."""
    try:
        result = json.loads(request.form.get("result") or "{}")
        automation.skip_failed_step(job_id, result, user=me(), dispatch=dispatcher())
        flash(_("The step was skipped; the request goes on."), "success")
    except (ValueError, InvalidInput):
        flash(_("The result must be a JSON object, for example {}."), "error")
    except Conflict:
        flash(_("This step is no longer failed."), "error")
    return _back()


@blp.post("/requests/<int:instance_id>/cancel")
@requires(Capability.SEE_ALL_REQUESTS)
def cancel(instance_id):
    reason = request.form.get("reason", "").strip()[:500]
    try:
        instances.cancel_instance(instance_id, user=me(), reason=reason)
        flash(_("Request #%(id)d has been cancelled.", id=instance_id), "success")
    except Conflict:
        flash(_("Request #%(id)d is already finished.", id=instance_id), "error")
    return _back()
