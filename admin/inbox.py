"""The inbox of approvers and agents: my tasks and my groups', claim, reassign, fill, approve."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from admin import formview, present
from admin.portal import PAGE_SIZE, dispatcher, page_number, request_view
from admin.web import add_error_pages, inbox_counts, lang, me
from engine.catalog import reads as catalog
from engine.catalog import texts
from engine.db import utcnow
from engine.errors import Conflict, InvalidInput
from engine.identity import reads as identity
from engine.instances import access, reads, service

blp = Blueprint("inbox", __name__)
add_error_pages(blp)
SCOPES = ("all", "mine", "groups")


@blp.get("/inbox")
@login_required
def index():
    user = me()
    args = request.args
    scope = args.get("scope") if args.get("scope") in SCOPES else "all"
    due = args.get("due") if args.get("due") in reads.DUE_FILTERS else None
    sort = "new" if args.get("sort") == "new" else "due"
    offering = args.get("offering") or None
    search = args.get("q", "").strip()[:100]
    query = reads.inbox_query(
        user,
        scope=scope,
        offering=offering,
        due=due,
        search=search or None,
        sort=sort,
        now=utcnow(),
    )
    tasks, total = reads.page(query, page_number(), PAGE_SIZE)
    groups = identity.groups() if tasks else {}
    rows = [
        {
            "task": t,
            "name": present.task_name(t),
            "who": present.holder(t, groups),
            "mine": t.assignee_id == user.id,
            "title": present.title(t.instance),
        }
        for t in tasks
    ]
    return render_template(
        "inbox/index.html",
        rows=rows,
        total=total,
        counts=inbox_counts(user),
        scope=scope,
        due_filter=due,
        sort=sort,
        offering=offering,
        query=search,
        offerings=present.offering_names(),
        page=page_number(),
        pages=reads.pages(total, PAGE_SIZE),
    )


@blp.route("/inbox/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task_page(task_id):
    user = me()
    task = access.get_task(task_id)
    access.check_can_work(user, task)
    instance = task.instance
    version = instance.process_version
    step = catalog.steps(version).get(task.bpmn_id)
    form = catalog.form_of(version, task.form_key)
    fields = formview.fields_for(form, lang()) if form else []
    decision = _decision_fields(step, fields)
    shown = [f for f in fields if decision is None or f.key != decision[0].key]
    values, errors, tokens, status = {}, {}, {}, 200
    if request.method == "POST":
        if not task.is_open:
            flash(_("This step is already closed."), "error")
            return redirect(url_for(".task_page", task_id=task_id))
        sent = formview.read(shown, user, request.form, request.files)
        values, tokens = sent.values, sent.tokens
        if decision is not None and request.form.get(decision[0].key) in ("true", "false"):
            values[decision[0].key] = request.form[decision[0].key] == "true"
        if not sent.action:
            try:
                return _complete(task, sent)
            except InvalidInput as exc:
                errors, status = formview.messages(exc, lang()), 422
    view = request_view(instance)
    history = view["events"]
    return render_template(
        "inbox/task.html",
        task=task,
        task_name=present.task_name(task),
        instructions=texts.instructions(step, version, view["data"], lang()) if step else None,
        form=form,
        fields=shown,
        approval=decision,
        decided=reads.decision_event(task, history) if not task.is_open else None,
        values=values,
        errors=errors,
        tokens=tokens,
        can_act=access.can_act(user, task),
        members=identity.group_members(task.candidate_group) if task.is_open else [],
        holder=present.holder(task, view["groups"]),
        **view,
    ), status


def _decision_fields(step, fields):
    """(decision field, comment field) of a step that decides, for the Approve/Reject buttons."""
    if step is None or not step.spec.decision_field:
        return None
    flag = next((f for f in fields if f.key == step.spec.decision_field), None)
    comment = next((f for f in fields if f.key == step.spec.comment_field), None)
    return (flag, comment) if flag is not None else None


def _complete(task, sent):
    user = me()
    service.complete_task(
        task.task_id,
        sent.values,
        user=user,
        dispatch=dispatcher(),
        problems=sent.problems,
    )
    following = reads.next_task_for(user, task.instance_id)
    if following is not None:
        flash(_("Step completed. The next step of this request is yours as well."), "success")
        return redirect(url_for(".task_page", task_id=following.task_id))
    flash(_("Step completed."), "success")
    return redirect(url_for(".index"))


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
