"""Administration (admin role): users, groups, roles, tokens, the audit log; and my account."""

from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from admin import formview
from admin.portal import PAGE_SIZE, page_number
from admin.web import actor, add_error_pages, lang, me, requires
from engine.audit import reads as audit_reads
from engine.audit.kinds import AuditKind
from engine.errors import InvalidInput, PlatformError, status_of
from engine.identity import reads as identity
from engine.identity import roles as role_rules
from engine.identity import service
from engine.identity.roles import Capability
from engine.instances import reads

blp = Blueprint("administration", __name__)
add_error_pages(blp)

CAPABILITY_TEXT = {
    Capability.REQUEST: _l("Start requests from the catalog; see and cancel their own requests"),
    Capability.WORK_STEPS: _l("Work on steps handed to them or their groups"),
    Capability.VIEW_DIAGRAMS: _l("See the requests they may see on their diagram"),
    Capability.SEE_ALL_REQUESTS: _l("See every request (of their department, if they have one)"),
    Capability.HANDLE_FAILED_STEPS: _l("Retry, correct, skip or cancel failed automated steps"),
    Capability.DEPLOY: _l("Deploy offerings and read every process version's BPMN"),
    Capability.ADMINISTER: _l("Users, groups, roles, tokens, the audit log; act on any step"),
}
KIND_TEXT = {
    AuditKind.SIGN_IN: _l("Signed in"),
    AuditKind.SIGN_IN_FAILED: _l("Failed sign-in"),
    AuditKind.SIGN_OUT: _l("Signed out"),
    AuditKind.DOWNLOAD: _l("Downloaded a file"),
    AuditKind.TOKEN_USED: _l("Used an API token"),
    AuditKind.TOKEN_CREATED: _l("Created an API token"),
    AuditKind.TOKEN_REVOKED: _l("Revoked an API token"),
    AuditKind.USER_CREATED: _l("Created a user"),
    AuditKind.USER_CHANGED: _l("Changed a user"),
    AuditKind.USER_DEACTIVATED: _l("Deactivated a user"),
    AuditKind.PASSWORD_SET: _l("Set a password"),
    AuditKind.GROUP_CREATED: _l("Created a group"),
    AuditKind.GROUP_CHANGED: _l("Changed a group"),
    AuditKind.ROLE_CREATED: _l("Created a role"),
    AuditKind.ROLE_CHANGED: _l("Changed a role"),
    AuditKind.ROLE_DELETED: _l("Deleted a role"),
    AuditKind.REQUEST_CHANGED: _l("Changed a request"),
}
SCOPE_TEXT = {"read": _l("Read"), "write": _l("Write")}


def _refused(exc: PlatformError) -> None:
    """Flash what was wrong (the field messages of an InvalidInput), in the page's language."""
    if isinstance(exc, InvalidInput):
        messages = formview.messages(exc, lang())
        flash(" ".join(m for ms in messages.values() for m in ms) or exc.detail, "error")
    elif status_of(exc) == 409:
        flash(_conflict_text(exc), "error")
    elif status_of(exc) == 404:
        flash(_("It does not exist (any more)."), "error")
    else:
        raise exc


def _conflict_text(exc: PlatformError) -> str:
    """A refusal (409) said in the page's language."""
    detail = exc.detail or ""
    if "last active administrator" in detail or "no active administrator" in detail:
        return _("At least one active administrator must remain: make another one first.")
    if "deactivate yourself" in detail:
        return _("You cannot deactivate yourself.")
    if "built-in role" in detail:
        return _("Built-in roles cannot be changed or deleted.")
    if "hold the role" in detail:
        return _("Users still hold this role: take it from them first.")
    return _("That name is already taken.")


@contextmanager
def _refusals():
    """Run a change; if the domain refuses it, flash why instead (the view redirects either way)."""
    try:
        yield
    except PlatformError as exc:
        _refused(exc)


@blp.get("/admin/users")
@requires(Capability.ADMINISTER)
def users():
    query = identity.users_query(group=request.args.get("group") or None)
    items, total = reads.page(query, page_number(), PAGE_SIZE)
    return render_template(
        "admin/users.html", users=items, page=page_number(),
        pages=reads.pages(total, PAGE_SIZE), roles=role_rules.known(), groups=identity.groups(),
        group=request.args.get("group", ""),
    )  # fmt: skip


@blp.post("/admin/users")
@requires(Capability.ADMINISTER)
def create_user():
    form = request.form
    with _refusals():
        service.create_user(
            form.get("username", "").strip(), form.get("display_name", "").strip(),
            roles=",".join(form.getlist("roles")) or "requester",
            group_keys=form.getlist("groups"), password=form.get("password") or None,
            actor=actor(),
        )  # fmt: skip
        flash(_("User %(name)s created.", name=form.get("username")), "success")
    return redirect(url_for(".users"))


@blp.post("/admin/users/<username>/password")
@requires(Capability.ADMINISTER)
def reset_password(username):
    with _refusals():
        service.set_password(username, request.form.get("password", ""), actor=actor())
        flash(_("The password of %(name)s was reset.", name=username), "success")
    return redirect(url_for(".users"))


@blp.post("/admin/users/<username>")
@requires(Capability.ADMINISTER)
def change_user(username):
    """Name, e-mail, department, roles and groups of a user, from one form."""
    form = request.form
    with _refusals():
        service.change_user(
            username, display_name=form.get("display_name", ""), email=form.get("email", ""),
            department=form.get("department", ""), roles=form.getlist("roles"),
            groups=form.getlist("groups"), actor=actor(),
        )  # fmt: skip
        flash(_("%(name)s saved.", name=username), "success")
    return redirect(url_for(".users", group=request.args.get("group") or None))


@blp.post("/admin/users/<username>/memberships")
@requires(Capability.ADMINISTER)
def set_memberships(username):
    with _refusals():
        service.set_memberships(
            username, roles=request.form.getlist("roles"),
            group_keys=request.form.getlist("groups"), actor=actor(),
        )  # fmt: skip
        flash(_("Roles and groups of %(name)s saved.", name=username), "success")
    return redirect(url_for(".users"))


@blp.post("/admin/users/<username>/active")
@requires(Capability.ADMINISTER)
def set_active(username):
    active = request.form.get("active") == "1"
    with _refusals():
        service.set_active(username, active, actor=actor())
        text = _("%(name)s activated.") if active else _("%(name)s deactivated.")
        flash(text % {"name": username}, "success")
    return redirect(url_for(".users"))


@blp.get("/admin/groups")
@requires(Capability.ADMINISTER)
def groups():
    found = sorted(identity.groups().values(), key=lambda g: g.key)
    return render_template("admin/groups.html", groups=found)


@blp.post("/admin/groups")
@requires(Capability.ADMINISTER)
def create_group():
    form = request.form
    with _refusals():
        service.create_group(
            form.get("key", "").strip(), form.get("name_en", "").strip(),
            form.get("name_zh", "").strip(), actor=actor(),
        )  # fmt: skip
        flash(_("Group %(key)s created.", key=form.get("key")), "success")
    return redirect(url_for(".groups"))


@blp.post("/admin/groups/<key>")
@requires(Capability.ADMINISTER)
def change_group(key):
    form = request.form
    with _refusals():
        service.change_group(key, name_en=form.get("name_en", ""), name_zh=form.get("name_zh", ""),
                             actor=actor())  # fmt: skip
        flash(_("Group %(key)s saved.", key=key), "success")
    return redirect(url_for(".groups"))


@blp.get("/admin/roles")
@requires(Capability.ADMINISTER)
def roles_page():
    return render_template(
        "admin/roles.html", roles=role_rules.known().values(), capabilities=CAPABILITY_TEXT,
        counts=identity.role_counts(),
    )  # fmt: skip


@blp.post("/admin/roles")
@requires(Capability.ADMINISTER)
def create_role():
    form = request.form
    with _refusals():
        service.create_role(
            form.get("key", "").strip(), form.get("name_en", "").strip(),
            form.get("name_zh", "").strip(), form.getlist("capabilities"), actor=actor(),
        )  # fmt: skip
        flash(_("Role %(key)s created.", key=form.get("key")), "success")
    return redirect(url_for(".roles_page"))


@blp.post("/admin/roles/<key>")
@requires(Capability.ADMINISTER)
def change_role(key):
    form = request.form
    with _refusals():
        service.change_role(
            key, name_en=form.get("name_en", ""), name_zh=form.get("name_zh", ""),
            capabilities=form.getlist("capabilities"), actor=actor(),
        )  # fmt: skip
        flash(_("Role %(key)s saved.", key=key), "success")
    return redirect(url_for(".roles_page"))


@blp.post("/admin/roles/<key>/delete")
@requires(Capability.ADMINISTER)
def delete_role(key):
    with _refusals():
        service.delete_role(key, actor=actor())
        flash(_("Role %(key)s deleted.", key=key), "success")
    return redirect(url_for(".roles_page"))


@blp.get("/admin/tokens")
@requires(Capability.ADMINISTER)
def tokens():
    return render_template("admin/tokens.html", tokens=identity.all_tokens(), scopes=SCOPE_TEXT)


@blp.post("/admin/tokens/<int:token_id>/revoke")
@requires(Capability.ADMINISTER)
def revoke_any_token(token_id):
    with _refusals():
        service.revoke_token(identity.token_owner(token_id), token_id, keep=None, actor=actor())
        flash(_("Token revoked."), "success")
    return redirect(url_for(".tokens"))


def _day(value: str, *, end: bool = False) -> datetime | None:
    """A yyyy-mm-dd of the web's time zone as naive UTC: its start, or the next day's start."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date() + timedelta(days=1 if end else 0)
        local = datetime.combine(day, time(), tzinfo=get_timezone())
        return local.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # not a date, or at an end of the calendar: no bound
        return None


@blp.get("/admin/audit")
@requires(Capability.ADMINISTER)
def audit():
    args = request.args
    kind = args.get("kind") if args.get("kind") in set(AuditKind) else None
    filters = {
        "kind": kind or "",
        "actor": args.get("actor", "").strip()[:64],
        "subject": args.get("subject", "").strip()[:120],
        "since": args.get("since", "")[:10],
        "until": args.get("until", "")[:10],
    }
    query = audit_reads.events_query(
        kind=kind, actor=filters["actor"] or None, subject=filters["subject"] or None,
        since=_day(filters["since"]), until=_day(filters["until"], end=True),
    )  # fmt: skip
    items, total = reads.page(query, page_number(), PAGE_SIZE)
    return render_template(
        "admin/audit.html", events=items, total=total, page=page_number(),
        pages=reads.pages(total, PAGE_SIZE), filters=filters, kinds=KIND_TEXT,
        keep={k: v for k, v in filters.items() if v},
    )  # fmt: skip


@blp.get("/account")
@login_required
def account():
    shown = session.pop("new_token", None)  # shown on this page once, never again
    return render_template(
        "admin/account.html", tokens=identity.tokens_of(me().id), new_token=shown,
        scopes=SCOPE_TEXT,
    )  # fmt: skip


@blp.post("/account/password")
@login_required
def change_password():
    form = request.form
    if form.get("new_password") != form.get("confirm_password"):
        flash(_("The two new passwords differ."), "error")
        return redirect(url_for(".account"))
    try:
        service.change_password(
            me().id, form.get("current_password", ""), form.get("new_password", ""),
            actor=actor(),
        )  # fmt: skip
    except PlatformError as exc:
        _refused(exc)
        return redirect(url_for(".account"))
    flash(_("Password changed. Sign in with the new one."), "success")
    return redirect(url_for("web.login"))


@blp.post("/account/tokens")
@login_required
def create_token():
    form = request.form
    days = form.get("days", "")
    expires_at = None
    if days.isdigit() and 0 < int(days) <= 3650:
        expires_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=int(days))
    with _refusals():
        _row, token = service.create_token(
            me().id, form.get("name", "").strip()[:80] or "web",
            scopes=form.getlist("scopes"), expires_at=expires_at, actor=actor(),
        )  # fmt: skip
        session["new_token"] = token
    return redirect(url_for(".account"))


@blp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id):
    with _refusals():
        service.revoke_token(me().id, token_id, keep=None, actor=actor())
        flash(_("Token revoked."), "success")
    return redirect(url_for(".account"))
