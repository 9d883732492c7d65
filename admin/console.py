"""The console for agents and admins: an instance on its BPMN diagram, failed steps."""

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin import present
from admin.portal import PAGE_SIZE, dispatcher, page_number, request_view
from admin.web import add_error_pages, lang, me, roles_required, safe_next, vendor_available
from engine import access, automation, queries, service, timeline, versions
from engine.errors import Conflict, InvalidInput

blp = Blueprint("console", __name__, url_prefix="/console")
add_error_pages(blp)
HANDLER_ROLES = ("agent", "approver", "designer", "admin")


@blp.get("/requests/<int:instance_id>")
@roles_required(*HANDLER_ROLES)
def instance_page(instance_id):
    instance = access.visible_instance(me(), instance_id)
    view = request_view(instance)
    infos, version = view["infos"], instance.process_version
    history = [
        {"event": e, "what": present.EVENT_LABELS.get(e.kind, e.kind),
         "step": present.step_name(infos, e.bpmn_id, e.bpmn_id or "", version) if e.bpmn_id else "",
         "detail": (e.payload or {}).get("error") or (e.payload or {}).get("reason") or ""}
        for e in view["events"]
    ]  # fmt: skip
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
        jobs=timeline.jobs(instance.id),
        viewer=vendor_available(),
        history=history,
        step_name=lambda bpmn_id: present.step_name(infos, bpmn_id, bpmn_id, version),
        open_steps=open_steps,
        job_labels=present.JOB_LABELS,
        can_cancel=instance.status not in ("complete", "cancelled")
        and (instance.requested_by_id == me().id or access.can_see_all(me())),
        **view,
    )


@blp.get("/requests/<int:instance_id>/diagram.bpmn")
@roles_required(*HANDLER_ROLES)
def diagram(instance_id):
    """The BPMN XML of the instance's own process version (not the newest one)."""
    instance = access.visible_instance(me(), instance_id)
    files = instance.process_version.files
    key = instance.offering_key
    name = next(
        (n for n, text in files.items() if f'id="{key}"' in text),
        f"{key}.bpmn" if f"{key}.bpmn" in files else next(iter(files)),
    )
    return Response(files[name], mimetype="application/xml")


@blp.get("/failed")
@roles_required("admin")
def failed():
    items, total = queries.page(timeline.failed_instances_query(), page_number(), PAGE_SIZE)
    ids = [i.id for i in items]
    jobs = timeline.failed_jobs(ids)
    failures = timeline.last_failures(ids)
    names = present.offering_names(versions.latest_all())
    rows = [
        {"instance": i, "jobs": jobs[i.id], "failure": failures.get(i.id),
         "offering": names.get(i.offering_key, i.offering_key)}
        for i in items
    ]  # fmt: skip
    return render_template(
        "console/failed.html",
        rows=rows,
        total=total,
        page=page_number(),
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        lang=lang(),
    )


@blp.post("/jobs/<int:job_id>/retry")
@roles_required("admin")
def retry(job_id):
    try:
        automation.retry_incident(job_id, user=me(), dispatch=dispatcher())
        flash(_("The step will run again."), "success")
    except Conflict:
        flash(_("This step is no longer failed."), "error")
    return redirect(safe_next(request.form.get("next")) or url_for(".failed"))


@blp.post("/jobs/<int:job_id>/skip")
@roles_required("admin")
def skip(job_id):
    """Continue the request as if the step had returned the result typed by the admin."""
    try:
        result = json.loads(request.form.get("result") or "{}")
        automation.skip_incident(job_id, result, user=me(), dispatch=dispatcher())
        flash(_("The step was skipped; the request goes on."), "success")
    except (ValueError, InvalidInput):
        flash(_("The result must be a JSON object, for example {}."), "error")
    except Conflict:
        flash(_("This step is no longer failed."), "error")
    return redirect(safe_next(request.form.get("next")) or url_for(".failed"))


@blp.post("/requests/<int:instance_id>/cancel")
@roles_required("agent", "admin")
def cancel(instance_id):
    reason = request.form.get("reason", "").strip()[:500]
    try:
        service.cancel_instance(instance_id, user=me(), reason=reason)
        flash(_("Request #%(id)d has been cancelled.", id=instance_id), "success")
    except Conflict:
        flash(_("Request #%(id)d is already finished.", id=instance_id), "error")
    return redirect(safe_next(request.form.get("next")) or url_for(".failed"))
