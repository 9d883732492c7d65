"""The inbox of approvers and agents: my tasks and my groups', claim, reassign, fill, approve."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from admin import formview, present
from admin.portal import PAGE_SIZE, dispatcher, page_number, request_view
from admin.web import add_error_pages, inbox_counts, lang, me
from engine import access, attachments, queries, service, timeline, versions
from engine.errors import Conflict, InvalidInput
from engine.models import utcnow

blp = Blueprint("inbox", __name__)
add_error_pages(blp)
_INSTRUCTIONS = SandboxedEnvironment(autoescape=True)
SCOPES = ("all", "mine", "groups")


@blp.get("/inbox")
@login_required
def index():
    user = me()
    args = request.args
    scope = args.get("scope") if args.get("scope") in SCOPES else "all"
    due = args.get("due") if args.get("due") in timeline.DUE_FILTERS else None
    sort = "new" if args.get("sort") == "new" else "due"
    offering = args.get("offering") or None
    search = args.get("q", "").strip()[:100]
    query = timeline.inbox_query(user, scope=scope, offering=offering, due=due,
                                 search=search or None, sort=sort, now=utcnow())  # fmt: skip
    tasks, total = queries.page(query, page_number(), PAGE_SIZE)
    counts = inbox_counts(user)
    all_versions = versions.latest_all()
    groups = timeline.groups() if tasks else {}
    rows = [
        {"task": t, "name": present.task_name(t), "who": present.holder(t, groups),
         "mine": t.assignee_id == user.id}
        for t in tasks
    ]  # fmt: skip
    return render_template(
        "inbox/index.html",
        rows=rows,
        total=total,
        counts=counts,
        scope=scope,
        due=due,
        sort=sort,
        offering=offering,
        query=search,
        offerings=present.offering_names(all_versions),
        page=page_number(),
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
    )


@blp.route("/inbox/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task_page(task_id):
    user = me()
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    instance = task.instance
    form = formview.resolve(instance.process_version, task.form_key)
    fields = formview.fields_for(form, lang()) if form else []
    pair = formview.approval(fields)
    values, errors, tokens, status = {}, {}, {}, 200
    if request.method == "POST":
        if task.state != "open":
            flash(_("This step is already closed."), "error")
            return redirect(url_for(".task_page", task_id=task_id))
        sent = formview.submit(form, fields, user, request.form, request.files)
        values, errors, tokens = sent.values, sent.errors, sent.tokens
        if not sent.action:
            if pair and request.form.get(pair[0].key) not in ("true", "false"):
                errors[pair[0].key] = [_("Choose Approve or Reject.")]
            if pair and values.get(pair[0].key) is False and not values.get(pair[1].key):
                errors[pair[1].key] = [_("Say why you reject the request.")]
            if not errors:
                return _complete(task, sent.clean, sent.uploads.created)
            status = 422
    view = request_view(instance)
    return render_template(
        "inbox/task.html",
        task=task,
        task_name=present.task_name(task),
        instructions=_instructions(task, view["data"]),
        form=form,
        fields=[f for f in fields if not pair or f.key != pair[0].key],
        approval=pair,
        values=values,
        errors=errors,
        tokens=tokens,
        can_act=task.state == "open" and task.assignee_id in (None, user.id),
        members=timeline.group_members(task.candidate_group) if task.state == "open" else [],
        holder=present.holder(task, view["groups"]),
        **view,
    ), status


def _complete(task, data: dict, uploaded: list[int]):
    user = me()
    if uploaded:
        attachments.link(uploaded, task.instance_id, user=user)  # committed by complete_task
    service.complete_task(task.instance_id, task.task_id, data, user=user, dispatch=dispatcher())
    following = timeline.next_task_for(user, task.instance_id)
    if following is not None:
        flash(_("Step completed. The next step of this request is yours as well."), "success")
        return redirect(url_for(".task_page", task_id=following.task_id))
    flash(_("Step completed."), "success")
    return redirect(url_for(".index"))


def _instructions(task, data: dict) -> str:
    if not task.instructions:
        return ""
    try:
        return _INSTRUCTIONS.from_string(task.instructions).render(**data)
    except TemplateError:  # a designer's template error must not hide the task
        return task.instructions


@blp.post("/inbox/tasks/<task_id>/claim")
@login_required
def claim(task_id):
    return _assign(
        service.claim_task,
        task_id,
        _("The step is now assigned to you."),
        _("Someone else has already taken this step."),
    )


@blp.post("/inbox/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id):
    return _assign(
        service.unclaim_task,
        task_id,
        _("The step is back with the group."),
        _("This step is assigned to someone else."),
    )


def _assign(unit, task_id: str, done: str, conflict: str):
    """Run claim or unclaim, say how it went, and show the task again."""
    try:
        unit(task_id, user=me())
        flash(done, "success")
    except Conflict:
        flash(conflict, "error")
    return redirect(url_for(".task_page", task_id=task_id))


@blp.post("/inbox/tasks/<task_id>/reassign")
@login_required
def reassign(task_id):
    username = request.form.get("assignee", "")
    try:
        task = service.reassign_task(task_id, username, user=me())
    except InvalidInput:
        flash(_("Choose a member of the step's group."), "error")
        return redirect(url_for(".task_page", task_id=task_id))
    except Conflict:
        flash(_("This step is already closed."), "error")
        return redirect(url_for(".task_page", task_id=task_id))
    flash(_("The step is now assigned to %(name)s.", name=task.assignee.display_name), "success")
    if task.assignee_id == me().id:
        return redirect(url_for(".task_page", task_id=task_id))
    return redirect(url_for(".index"))
