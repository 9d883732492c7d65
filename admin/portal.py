"""The requester portal: the catalog, a service page with its start form, my requests, timeline."""

from pathlib import Path

from flask import (
    Blueprint,
    abort,
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
from admin.web import add_error_pages, lang, me, safe_next
from engine import access, attachments, queries, service, timeline, versions
from engine.errors import InvalidInput, NotFound
from engine.models import Attachment, db

blp = Blueprint("portal", __name__)
add_error_pages(blp)
PAGE_SIZE = 20


def dispatcher():
    return current_app.extensions["flowdesk"].dispatch


def page_number() -> int:
    value = request.args.get("page", "1")
    return max(int(value), 1) if value.isdigit() else 1


@blp.get("/catalog", endpoint="catalog")
@login_required
def catalog_page():
    query = request.args.get("q", "").strip()[:100]
    offerings = [catalog.offering(v, lang()) for v in versions.latest_all()]
    found = catalog.search(offerings, query) if query else offerings
    recent, _total = queries.page(timeline.requests_query(me()), 1, 4)
    return render_template(
        "portal/catalog.html",
        recent=[{"instance": i, "status": present.status(i)} for i in recent],
        query=query,
        sections=catalog.sections(found),
        total=len(offerings),
        found=len(found),
    )


@blp.route("/services/<key>", methods=["GET", "POST"])
@login_required
def service_page(key):
    version = versions.latest(key)
    offering = catalog.offering(version, lang())
    form = formview.resolve(version, version.meta.get("start_form"))
    fields = formview.fields_for(form, lang()) if form else []
    values, errors, tokens, status = {}, {}, {}, 200
    if request.method == "POST":
        sent = formview.submit(form, fields, me(), request.form, request.files)
        values, errors, tokens = sent.values, sent.errors, sent.tokens
        if not sent.action:
            if not errors:
                instance = service.start_instance(key, sent.clean, user=me(), dispatch=dispatcher())
                flash(_("Your request has been submitted."), "success")
                return redirect(url_for(".request_page", instance_id=instance.id))
            status = 422
    infos = timeline.outline(version)
    groups = timeline.groups()
    steps = [
        {
            "name": present.step_name({s["info"].bpmn_id: s["info"]}, s["info"].bpmn_id,
                                      version=version),
            "who": present.group_name(groups, None, s["info"].lane),
            "conditional": s["conditional"],
        }
        for s in infos
    ]  # fmt: skip
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
    state = state if state in ("open", "closed", "all") else "all"
    query_text = request.args.get("q", "").strip()[:100]
    query = timeline.requests_query(me(), state=state, search=query_text or None)
    items, total = queries.page(query, page_number(), PAGE_SIZE)
    open_tasks = timeline.open_tasks_by_instance([i.id for i in items])
    groups = timeline.groups() if items else {}
    rows = []
    for instance in items:
        tasks = open_tasks[instance.id]
        rows.append(
            {
                "instance": instance,
                "status": present.status(instance),
                "now": [
                    {
                        "name": present.task_name(t),
                        "who": present.holder(t, groups),
                        "due": t.due_at,
                    }
                    for t in tasks
                ],  # fmt: skip
            }
        )
    names = present.offering_names(versions.latest_all())
    return render_template(
        "portal/requests.html",
        rows=rows,
        names=names,
        total=total,
        page=page_number(),
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        state=state,
        query=query_text,
    )


@blp.get("/requests/<int:instance_id>")
@login_required
def request_page(instance_id):
    user = me()
    instance = access.visible_instance(user, instance_id)
    view = request_view(instance)
    can_cancel = instance.status not in ("complete", "cancelled") and (
        instance.requested_by_id == user.id or access.can_see_all(user)
    )
    return render_template("portal/request.html", can_cancel=can_cancel, **view)


def request_view(instance) -> dict:
    """Everything the request page and the task page show about a request."""
    snap = timeline.snapshot(instance)
    events = queries.events(instance.id)
    done_tasks = timeline.completed_tasks(instance.id)
    open_tasks = queries.open_tasks(instance.id)
    infos = timeline.step_infos(instance.process_version)
    groups = timeline.groups()
    meta = instance.process_version.meta
    return {
        "instance": instance,
        "status": present.status(instance),
        "offering_name": meta.get(f"name_{lang()}") or meta.get("name_en"),
        "entries": present.build_timeline(
            instance,
            events=events,
            done_tasks=done_tasks,
            open_tasks=open_tasks,
            snap=snap,
            infos=infos,
            groups=groups,
        ),  # fmt: skip
        "outcome": present.outcome(instance, snap.data, done_tasks, events),
        "sections": present.data_sections(
            instance, snap.data, done_tasks, meta.get("start_form")
        ),  # fmt: skip
        "data": snap.data,
        "comments": timeline.comments(instance.id),
        "files": _files(instance, snap.data),
        "open_tasks": open_tasks,
        "events": events,
        "snap": snap,
        "infos": infos,
        "groups": groups,
    }


def _files(instance, data: dict) -> list:
    ids = present.files_in(data)
    rows = {a.id: a for a in timeline.attachments(instance.id)}
    for attachment_id in ids - set(rows):
        row = db.session.get(Attachment, attachment_id)
        if row is not None and row.instance_id is None:
            rows[row.id] = row
    return sorted(rows.values(), key=lambda a: a.id)


@blp.post("/requests/<int:instance_id>/cancel")
@login_required
def cancel(instance_id):
    reason = request.form.get("reason", "").strip()[:500]
    service.cancel_instance(instance_id, user=me(), reason=reason)
    flash(_("The request has been cancelled."), "success")
    return redirect(safe_next(request.form.get("next"))
                    or url_for(".request_page", instance_id=instance_id))  # fmt: skip


@blp.post("/requests/<int:instance_id>/comments")
@login_required
def comment(instance_id):
    target = safe_next(request.form.get("next")) or url_for(
        ".request_page", instance_id=instance_id
    )
    try:
        service.add_comment(instance_id, request.form.get("body", ""), user=me())
    except InvalidInput:
        flash(_("Write a comment of 1 to 4000 characters."), "error")
        return redirect(target)
    flash(_("Comment added."), "success")
    return redirect(target + "#comments")


@blp.get("/requests/<int:instance_id>/files/<int:attachment_id>")
@login_required
def download(instance_id, attachment_id):
    """A file of a request, for the people who can see the request."""
    user = me()
    instance = access.visible_instance(user, instance_id)
    storage = Path(current_app.config["ATTACHMENTS_DIR"])
    try:
        row, path = attachments.readable(attachment_id, user=user, storage=storage)
    except NotFound:
        # Files sent with the start form are not linked to the request (the request did not
        # exist yet when they were stored); they are readable through the request's data.
        row = db.session.get(Attachment, attachment_id)
        if row is None or row.instance_id is not None:
            raise
        if attachment_id not in timeline.referenced_attachment_ids(
            timeline.snapshot(instance).data
        ):
            raise
        path = storage / row.sha256[:2] / row.sha256
    if row.instance_id not in (None, instance.id) or not path.is_file():
        abort(404)
    return send_file(path, mimetype=row.content_type, as_attachment=True,
                     download_name=row.filename, max_age=0)  # fmt: skip
