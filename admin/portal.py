"""The requester portal: the catalog, a service page with its start form, my requests, timeline."""

from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from admin import catalog, formview, present
from admin.web import actor, add_error_pages, lang, me, safe_next
from engine.audit import service as audit
from engine.audit.kinds import AuditKind
from engine.catalog import reads as catalog_reads
from engine.errors import InvalidInput
from engine.identity import reads as identity
from engine.instances import access, attachments, reads, service

blp = Blueprint("portal", __name__)
add_error_pages(blp)
PAGE_SIZE = 20


def dispatcher():
    return current_app.extensions["flowdesk"].dispatch


def page_number() -> int:
    value = request.args.get("page", "1")
    return max(int(value), 1) if value.isdigit() and len(value) < 7 else 1


@blp.get("/catalog", endpoint="catalog")
@login_required
def catalog_page():
    query = request.args.get("q", "").strip()[:100]
    offerings = [catalog.offering(v, lang()) for v in catalog_reads.latest_all()]
    found = catalog.search(offerings, query) if query else offerings
    recent, _total = reads.page(reads.requests_query(me()), 1, 4)
    return render_template(
        "portal/catalog.html",
        recent=[{"instance": i, "status": present.status(i)} for i in recent],
        query=query,
        sections=catalog.sections(found, lang()),
        total=len(offerings),
        found=len(found),
    )


@blp.route("/services/<key>", methods=["GET", "POST"])
@login_required
def service_page(key):
    version = catalog_reads.latest(key)
    offering = catalog.offering(version, lang())
    form = catalog_reads.form_of(version, version.meta.get("start_form"))
    fields = formview.fields_for(form, lang()) if form else []
    values, errors, tokens, status = {}, {}, {}, 200
    if request.method == "POST":
        sent = formview.read(fields, me(), request.form, request.files)
        values, tokens = sent.values, sent.tokens
        if not sent.action:
            try:
                instance = service.start_instance(
                    key, sent.values, user=me(), dispatch=dispatcher(), problems=sent.problems
                )
            except InvalidInput as exc:
                errors, status = formview.messages(exc, lang()), 422
            else:
                flash(_("Your request has been submitted."), "success")
                return redirect(url_for(".request_page", instance_id=instance.id))
    groups = identity.groups()
    steps = [
        {
            "name": step.name(lang()),
            "who": present.group_name(groups, None, step.spec.lane, version),
            "conditional": step.spec.conditional,
        }
        for step in catalog_reads.human_steps(version)
    ]
    handlers = list(dict.fromkeys(s["who"] for s in steps if not s["conditional"]))
    return render_template(
        "portal/service.html",
        offering=offering,
        form=form,
        fields=fields,
        values=values,
        errors=errors,
        tokens=tokens,
        steps=steps,
        handlers=handlers,
    ), status


@blp.get("/requests")
@login_required
def my_requests():
    state = request.args.get("state", "all")
    state = state if state in reads.REQUEST_STATES else "all"
    query_text = request.args.get("q", "").strip()[:100]
    query = reads.requests_query(me(), state=state, search=query_text or None)
    items, total = reads.page(query, page_number(), PAGE_SIZE)
    open_tasks = reads.open_tasks_by_instance([i.id for i in items])
    groups = identity.groups() if items else {}
    rows = [
        {
            "instance": instance,
            "status": present.status(instance),
            "now": [
                {"name": present.task_name(t), "who": present.holder(t, groups), "due": t.due_at}
                for t in open_tasks[instance.id]
            ],
        }
        for instance in items
    ]
    return render_template(
        "portal/requests.html",
        rows=rows,
        names=present.offering_names(),
        total=total,
        page=page_number(),
        pages=reads.pages(total, PAGE_SIZE),
        state=state,
        query=query_text,
    )


@blp.get("/requests/<int:instance_id>")
@login_required
def request_page(instance_id):
    instance = access.visible_instance(me(), instance_id)
    view = request_view(instance)
    return render_template(
        "portal/request.html", can_cancel=access.can_cancel(me(), instance), **view
    )


def request_view(instance) -> dict:
    """Everything the request page, the task page and the console show about a request."""
    snap = reads.snapshot(instance)
    events = reads.events(instance.id)
    done_tasks = reads.completed_tasks(instance.id)
    open_tasks = reads.open_tasks(instance.id)
    groups = identity.groups()
    return {
        "instance": instance,
        "title": present.title(instance),
        "status": present.status(instance),
        "offering_name": catalog_reads.offering(instance.process_version)["name"][lang()],
        "entries": present.build_timeline(
            instance, events=events, open_tasks=open_tasks, snap=snap, groups=groups
        ),
        "outcome": present.outcome(reads.outcome_of(instance, events)),
        "sections": present.data_sections(instance, snap.data, done_tasks),
        "data": snap.data,
        "comments": reads.comments(instance.id),
        "files": attachments.linked(instance.id),
        "open_tasks": open_tasks,
        "events": events,
        "snap": snap,
        "steps": catalog_reads.steps(instance.process_version),
        "groups": groups,
    }


@blp.post("/requests/<int:instance_id>/cancel")
@login_required
def cancel(instance_id):
    reason = request.form.get("reason", "").strip()[:500]
    service.cancel_instance(instance_id, user=me(), reason=reason)
    flash(_("The request has been cancelled."), "success")
    return redirect(
        safe_next(request.form.get("next")) or url_for(".request_page", instance_id=instance_id)
    )


@blp.post("/requests/<int:instance_id>/comments")
@login_required
def comment(instance_id):
    target = safe_next(request.form.get("next")) or url_for(
        ".request_page", instance_id=instance_id
    )
    try:
        service.add_comment(instance_id, request.form.get("body", ""), user=me())
    except InvalidInput as exc:
        flash(" ".join(formview.messages(exc, lang()).get("body", [exc.detail])), "error")
        return redirect(target)
    flash(_("Comment added."), "success")
    return redirect(target + "#comments")


@blp.get("/requests/<int:instance_id>/files/<int:attachment_id>")
@login_required
def download(instance_id, attachment_id):
    """A file of a request, for the people who can see the request."""
    instance = access.visible_instance(me(), instance_id)
    storage = Path(current_app.config["ATTACHMENTS_DIR"])
    row, path = attachments.readable(instance, attachment_id, storage=storage)
    audit.record(AuditKind.DOWNLOAD, actor(), subject=f"attachment:{row.id}",
                 detail={"instance_id": instance.id, "filename": row.filename})  # fmt: skip
    return send_file(
        path, mimetype=row.content_type, as_attachment=True, download_name=row.filename, max_age=0
    )
