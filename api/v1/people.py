"""People: users, groups and roles (admins), my API tokens and password, the audit log (admins)."""

from datetime import UTC, datetime

from flask import request
from flask_smorest import Blueprint

from api.v1.context import current_token_id, current_user
from api.v1.schemas import (
    AuditEventListArgs,
    AuditEventPageSchema,
    GroupChangeSchema,
    GroupSchema,
    NewGroupSchema,
    NewPasswordSchema,
    NewRoleSchema,
    NewTokenSchema,
    NewUserSchema,
    PasswordResetSchema,
    PersonSchema,
    RoleChangeSchema,
    RoleSchema,
    TokenCreatedSchema,
    TokenSchema,
    UserChangeSchema,
    UserListArgs,
    UserPageSchema,
)
from engine.audit import reads as audit_reads
from engine.audit.service import Actor
from engine.errors import NotFound
from engine.identity import reads as identity
from engine.identity import roles, service
from engine.instances import reads

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="People and the audit log")


def _actor() -> Actor:
    user = current_user()
    return Actor(user.id, user.username, request.remote_addr)


def _utc(value: datetime | None) -> datetime | None:
    """An aware time from a request as the database holds it: naive UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


def _page(query, args) -> dict:
    items, total = reads.page(query, args["page"], args["page_size"])
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


@blp.get("/users")
@blp.doc(operationId="listUsers")
@blp.arguments(UserListArgs, location="query")
@blp.response(200, UserPageSchema)
def list_users(args):
    """Every user, by username; filter by group or role (admins)."""
    roles.check_administers(current_user())
    return _page(identity.users_query(group=args.get("group"), role=args.get("role")), args)


@blp.post("/users")
@blp.doc(operationId="createUser")
@blp.arguments(NewUserSchema)
@blp.response(201, PersonSchema)
def create_user(args):
    """Create a user, with a password to sign in to the web if one is given (admins)."""
    roles.check_administers(current_user())
    service.create_user(
        args["username"], args["display_name"], roles=",".join(args["roles"]),
        group_keys=args["groups"], password=args.get("password"), actor=_actor(),
    )  # fmt: skip
    return identity.user_by_username(args["username"])


@blp.get("/users/<username>")
@blp.doc(operationId="getUser")
@blp.response(200, PersonSchema)
def get_user(username):
    """One user, by username (admins)."""
    roles.check_administers(current_user())
    user = identity.user_by_username(username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


@blp.patch("/users/<username>")
@blp.doc(operationId="changeUser")
@blp.arguments(UserChangeSchema)
@blp.response(200, PersonSchema)
def change_user(args, username):
    """Change a user's name, e-mail, department, roles, groups or activation (admins).

    Only the fields given change. Deactivating yourself, or leaving no active administrator,
    is a conflict (409).
    """
    roles.check_administers(current_user())
    return service.change_user(username, actor=_actor(), **args)


@blp.post("/users/<username>/password")
@blp.doc(operationId="resetPassword")
@blp.arguments(PasswordResetSchema)
@blp.response(204)
def reset_password(args, username):
    """Set a new password for a user; their web sessions end (admins)."""
    roles.check_administers(current_user())
    service.set_password(username, args["password"], actor=_actor())


@blp.get("/groups")
@blp.doc(operationId="listGroups")
@blp.response(200, GroupSchema(many=True))
def list_groups():
    """Every group, by key, with its members' usernames (admins)."""
    roles.check_administers(current_user())
    return sorted(identity.groups().values(), key=lambda g: g.key)


@blp.post("/groups")
@blp.doc(operationId="createGroup")
@blp.arguments(NewGroupSchema)
@blp.response(201, GroupSchema)
def create_group(args):
    """Create a group whose members share an inbox (admins)."""
    roles.check_administers(current_user())
    return service.create_group(
        args["key"], args["name_en"], args.get("name_zh", ""), actor=_actor()
    )


@blp.patch("/groups/<key>")
@blp.doc(operationId="changeGroup")
@blp.arguments(GroupChangeSchema)
@blp.response(200, GroupSchema)
def change_group(args, key):
    """Rename a group in either language; its key stays, as BPMN lanes name it (admins)."""
    roles.check_administers(current_user())
    return service.change_group(
        key, name_en=args.get("name_en"), name_zh=args.get("name_zh"), actor=_actor()
    )


@blp.get("/roles")
@blp.doc(operationId="listRoles")
@blp.response(200, RoleSchema(many=True))
def list_roles():
    """The roles, built in and made by admins, and what each allows (admins)."""
    roles.check_administers(current_user())
    return roles.described()


def _described(key: str) -> dict:
    return next(r for r in roles.described() if r["name"] == key)


@blp.post("/roles")
@blp.doc(operationId="createRole")
@blp.arguments(NewRoleSchema)
@blp.response(201, RoleSchema)
def create_role(args):
    """Create a role: a named set of capabilities users can hold (admins)."""
    roles.check_administers(current_user())
    service.create_role(
        args["key"], args["name_en"], args.get("name_zh", ""), args.get("capabilities", []),
        actor=_actor(),
    )  # fmt: skip
    return _described(args["key"])


@blp.patch("/roles/<key>")
@blp.doc(operationId="changeRole")
@blp.arguments(RoleChangeSchema)
@blp.response(200, RoleSchema)
def change_role(args, key):
    """Rename a role admins made, or change what it allows (admins; built-in roles: 409)."""
    roles.check_administers(current_user())
    service.change_role(key, actor=_actor(), **args)
    return _described(key)


@blp.delete("/roles/<key>")
@blp.doc(operationId="deleteRole")
@blp.response(204)
def delete_role(key):
    """Delete a role admins made that nobody holds (admins; otherwise 409)."""
    roles.check_administers(current_user())
    service.delete_role(key, actor=_actor())


@blp.get("/tokens")
@blp.doc(operationId="listTokens")
@blp.response(200, TokenSchema(many=True))
def list_tokens():
    """My API tokens, newest first (never the tokens themselves: they are shown once)."""
    return identity.tokens_of(current_user().id)


@blp.post("/tokens")
@blp.doc(operationId="createToken")
@blp.arguments(NewTokenSchema)
@blp.response(201, TokenCreatedSchema)
def create_token(args):
    """Create an API token for myself; the answer is the only time it is shown."""
    expires_at = _utc(args.get("expires_at"))
    row, token = service.create_token(
        current_user().id, args["name"], scopes=args["scopes"], expires_at=expires_at,
        actor=_actor(),
    )  # fmt: skip
    return {"token": token, "info": row}


@blp.delete("/tokens/<int:token_id>")
@blp.doc(operationId="revokeToken")
@blp.response(204)
def revoke_token(token_id):
    """Revoke one of my tokens (not the one this call is made with: use another, or the web)."""
    service.revoke_token(current_user().id, token_id, keep=current_token_id(), actor=_actor())


@blp.post("/me/password")
@blp.doc(operationId="changePassword")
@blp.arguments(NewPasswordSchema)
@blp.response(204)
def change_password(args):
    """Change my web password, giving the current one; my web sessions end."""
    user = current_user()
    service.change_password(user.id, args["current_password"], args["new_password"], actor=_actor())


@blp.get("/audit")
@blp.doc(operationId="listAuditEvents")
@blp.arguments(AuditEventListArgs, location="query")
@blp.response(200, AuditEventPageSchema)
def list_audit_events(args):
    """The audit log, newest first; filter by kind, actor, subject and time (admins)."""
    roles.check_administers(current_user())
    query = audit_reads.events_query(
        kind=args.get("kind"), actor=args.get("actor"), subject=args.get("subject"),
        since=_utc(args.get("since")), until=_utc(args.get("until")),
    )  # fmt: skip
    return _page(query, args)
