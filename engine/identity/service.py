"""Units of work on identities: users, tokens, languages, and the demo directory of people."""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from engine.audit.kinds import AuditKind
from engine.audit.service import Actor, append
from engine.db import begin_write, db, is_row_id, utcnow, write_unit
from engine.errors import Conflict, InvalidInput, NotFound
from engine.identity import demo, ldap, passwords, sync
from engine.identity import roles as role_rules
from engine.identity.ldap import DirectorySettings
from engine.identity.models import (
    GROUP_KEY,
    MAX_ROLES,
    ROLE_KEY,
    ApiToken,
    Group,
    Role,
    User,
    UserSession,
    holds_role,
)
from engine.identity.reads import dummy_hash, hash_token
from engine.identity.roles import Capability
from forms.messages import FieldError, as_problem

LANGUAGES = ("zh", "en")


def _add_token(user: User, name: str, token: str | None = None) -> str:
    token = token or secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=name))
    return token


def _user_named(username: str) -> User:
    user = db.session.scalar(
        select(User).filter_by(username=username).execution_options(populate_existing=True)
    )
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


@write_unit
def issue_token(username: str, *, name: str = "cli", actor: Actor) -> str:
    """Create an API token for a user; return the clear token (shown once, never stored).

    Raises:
        NotFound: no such user.
    """
    user = _user_named(username)
    token = _add_token(user, name)
    append(AuditKind.TOKEN_CREATED, actor, subject=f"user:{user.id}",
           detail={"username": username, "name": name})  # fmt: skip
    db.session.commit()
    return token


TOKEN_SCOPES = ("read", "write")


@write_unit
def create_token(user_id: int, name: str, *, scopes: list[str], expires_at: datetime | None,
                 actor: Actor) -> tuple[ApiToken, str]:  # fmt: skip
    """Create a token for a user: its row and the clear token (shown once, never stored).

    `read` allows GET calls, `write` everything else; `expires_at` is naive UTC or None.

    Raises:
        InvalidInput: an unknown scope, no scope, or an expiry in the past.
    """
    if not scopes or set(scopes) - set(TOKEN_SCOPES):
        rule = f"One or more of {', '.join(TOKEN_SCOPES)}."
        raise InvalidInput("unknown token scope", errors={"scopes": [rule]})
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("the expiry is past", errors={"expires_at": ["In the future."]})
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    token = secrets.token_urlsafe(32)
    chosen = ",".join(s for s in TOKEN_SCOPES if s in scopes)
    row = ApiToken(user_id=user.id, token_hash=hash_token(token), name=name, scopes=chosen,
                   expires_at=expires_at)  # fmt: skip
    db.session.add(row)
    db.session.flush()
    append(AuditKind.TOKEN_CREATED, actor, subject=f"token:{row.id}",
           detail={"username": user.username, "name": name, "scopes": row.scopes,
                   "expires_at": expires_at})  # fmt: skip
    db.session.commit()
    return row, token


@write_unit
def revoke_token(user_id: int, token_id: int, *, keep: int | None, actor: Actor) -> None:
    """Revoke one of a user's tokens; never `keep`, the one the call itself came with.

    Raises:
        NotFound: not a working token of this user. Conflict: the token of this very call.
    """
    row = db.session.get(ApiToken, token_id) if is_row_id(token_id) else None
    if row is None or row.user_id != user_id or not row.is_usable(utcnow()):
        raise NotFound(f"token {token_id}")
    if row.id == keep:
        raise Conflict("this call is made with that token: revoke it with another one")
    row.revoked_at = utcnow()
    append(AuditKind.TOKEN_REVOKED, actor, subject=f"token:{row.id}",
           detail={"username": row.user.username, "name": row.name})  # fmt: skip
    db.session.commit()


@write_unit
def note_token_use(token_id: int, *, source: str | None, method: str, path: str) -> None:
    """Record that a token was used (at most hourly: see reads.token_use_is_due)."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        return
    row.last_used_at = utcnow()
    append(AuditKind.TOKEN_USED, Actor(row.user_id, row.user.username, source),
           subject=f"token:{row.id}", detail={"name": row.name, "method": method,
                                               "path": path[:200]})  # fmt: skip
    db.session.commit()


@write_unit
def create_user(username: str, display_name: str, *, roles: str, group_keys: list[str],
                actor: Actor, password: str | None = None) -> str:  # fmt: skip
    """Create a user in the given groups, with a password if one is given; return an API token.

    Raises:
        Conflict: the username is taken. InvalidInput: an unknown role or group, a weak password.
    """
    if db.session.scalar(select(User).filter_by(username=username)):
        raise Conflict(f"user {username!r} exists")
    if password is not None:
        passwords.check_policy(password, hints=(username, display_name))
    roles, role_problem = _role_problem([r.strip() for r in roles.split(",") if r.strip()])
    found, group_problem = _group_problem(group_keys)
    _refuse(
        {
            name: [problem]
            for name, problem in (("roles", role_problem), ("groups", group_problem))
            if problem
        }
    )
    user = User(username=username, display_name=display_name, roles=roles, groups=found)
    if password is not None:
        user.password_hash = passwords.hash_password(password)
    db.session.add(user)
    db.session.flush()
    token = _add_token(user, "cli")
    append(AuditKind.USER_CREATED, actor, subject=f"user:{user.id}",
           detail={"username": username, "roles": roles, "groups": sorted(group_keys),
                   "password": password is not None})  # fmt: skip
    db.session.commit()
    return token


@write_unit
def create_group(key: str, name_en: str, name_zh: str, *, actor: Actor) -> Group:
    """Create a group whose members share an inbox.

    Raises:
        Conflict: the key is taken. InvalidInput: a key that is not snake_case.
    """
    if not GROUP_KEY.fullmatch(key or ""):
        rule = FieldError("group_key", texts=("Lower-case letters, digits and _; at most 64.",
                                              "小写字母、数字和 _，最多 64 个。"))  # fmt: skip
        raise InvalidInput(f"bad group key {key!r}", **as_problem({"key": [rule]}))
    if db.session.scalar(select(Group).filter_by(key=key)):
        raise Conflict(f"group {key!r} exists")
    group = Group(key=key, name_en=name_en or key, name_zh=name_zh or name_en or key)
    db.session.add(group)
    db.session.flush()
    append(AuditKind.GROUP_CREATED, actor, subject=f"group:{group.id}",
           detail={"key": key, "name_en": group.name_en, "name_zh": group.name_zh})  # fmt: skip
    db.session.commit()
    return group


@write_unit
def set_password(username: str, password: str, *, actor: Actor) -> None:
    """Set (or, by an admin, reset) a user's password; their open web sessions end.

    Raises:
        NotFound: no such user. InvalidInput: the password breaks the policy.
    """
    user = _user_named(username)
    passwords.check_policy(password, hints=(user.username, user.display_name))
    _store_password(user, password, actor)
    db.session.commit()


def _store_password(user: User, password: str, actor: Actor) -> None:
    user.password_hash = passwords.hash_password(password)
    user.failed_sign_ins, user.locked_until = 0, None
    _end_sessions(user.id)
    append(AuditKind.PASSWORD_SET, actor, subject=f"user:{user.id}",
           detail={"username": user.username, "own": actor.user_id == user.id})  # fmt: skip


def change_password(user_id: int, current: str, new: str, *, actor: Actor) -> None:
    """A user changes their own password, giving the current one first.

    Raises:
        InvalidInput: the current password is wrong, or the new one breaks the policy.
    """
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    if not passwords.matches(user.password_hash or dummy_hash(), current):
        wrong = FieldError("password_wrong", texts=("Wrong password.", "密码错误。"))
        raise InvalidInput("The current password is wrong.",
                           **as_problem({"current_password": [wrong]}))  # fmt: skip
    passwords.check_policy(new, hints=(user.username, user.display_name))
    begin_write()
    user = db.session.get(User, user_id, populate_existing=True)
    _store_password(user, new, actor)
    db.session.commit()


def _role_problem(keys: list[str]) -> tuple[str, FieldError | None]:
    """The stored form of a user's roles (requester always), and what is wrong with them."""
    known = role_rules.known()
    unknown = sorted(set(keys) - set(known))
    chosen = [key for key in known if key == "requester" or key in keys]
    if unknown:
        return "", FieldError(
            "role_unknown",
            texts=(f"Unknown role: {', '.join(unknown)}.", f"没有这个角色：{', '.join(unknown)}。"),
        )
    if len(chosen) > MAX_ROLES:
        return "", FieldError(
            "roles_too_many", texts=(f"At most {MAX_ROLES} roles.", f"最多 {MAX_ROLES} 个角色。")
        )
    return ",".join(chosen), None


def _group_problem(keys: list[str]) -> tuple[list[Group], FieldError | None]:
    found = list(db.session.scalars(select(Group).where(Group.key.in_(keys))))
    missing = sorted(set(keys) - {g.key for g in found})
    if missing:
        return [], FieldError(
            "group_unknown",
            texts=(f"Unknown group: {', '.join(missing)}.", f"没有这个组：{', '.join(missing)}。"),
        )
    return found, None


def _refuse(problems: dict[str, list[FieldError]]) -> None:
    if problems:
        summary = "; ".join(f"{name}: {items[0].text()}" for name, items in problems.items())
        raise InvalidInput(summary, **as_problem(problems))


DEPARTMENT_KEY = re.compile(r"[a-z][a-z0-9_-]{0,79}")  # as offerings' `department` names it
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}")
NAME_LENGTH = FieldError("name_length", texts=("1 to 120 characters.", "1 到 120 个字符。"))
USER_FIELDS = ("display_name", "email", "roles", "groups", "department", "is_active")


def _administrators() -> list[User]:
    """Every active user holding a role that administers."""
    keys = [r.key for r in role_rules.known().values()
            if Capability.ADMINISTER in r.capabilities]  # fmt: skip
    return list(db.session.scalars(select(User).where(User.is_active.is_(True), holds_role(*keys))))


@write_unit
def change_user(username: str, *, actor: Actor, **changes) -> User:
    """Change what an admin may change of a user, in one unit and one audit event:
    display_name, email, roles (a list; requester always), groups (a list of keys),
    department (a key, or None or "" for none) and is_active (deactivating ends their
    sessions and stops their tokens). Fields not given stay as they are.

    Raises:
        NotFound: no such user. InvalidInput: an unknown role or group, a bad name, e-mail or
        department. Conflict: deactivating yourself, or leaving no active administrator.
    """
    unknown = sorted(set(changes) - set(USER_FIELDS))
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(unknown)}",
                           errors={name: ["Cannot be changed."] for name in unknown})  # fmt: skip
    user = _user_named(username)
    values = _checked_user_fields(changes)
    before = _user_view(user)
    was_admin = user.is_active and role_rules.administers(user)
    if values.get("is_active") is False and actor.user_id == user.id:
        raise Conflict("you cannot deactivate yourself")
    for name, value in values.items():
        setattr(user, name, value)
    db.session.flush()
    if was_admin and not (user.is_active and role_rules.administers(user)):
        if not _administrators():
            raise Conflict(f"{username} is the last active administrator: make another first")
    after = _user_view(user)
    if after != before:
        if before["is_active"] and not after["is_active"]:
            _end_sessions(user.id)
        changed = {k: v for k, v in after.items() if before[k] != v}
        deactivated = changed == {"is_active": False}
        kind = AuditKind.USER_DEACTIVATED if deactivated else AuditKind.USER_CHANGED
        append(kind, actor, subject=f"user:{user.id}",
               detail={"username": username, **changed,
                       "were": {k: before[k] for k in changed}})  # fmt: skip
    db.session.commit()
    return user


def _checked_user_fields(changes: dict) -> dict:
    """The column values of the changes, each checked (InvalidInput with every bad field)."""
    values, problems = {}, {}

    def refuse(field: str, code: str, en: str, zh: str) -> None:
        problems[field] = [FieldError(code, texts=(en, zh))]

    if "display_name" in changes:
        name = (changes["display_name"] or "").strip()
        if not 0 < len(name) <= 120:
            problems["display_name"] = [NAME_LENGTH]
        values["display_name"] = name
    if "email" in changes:
        email = (changes["email"] or "").strip()
        if email and (len(email) > 200 or not EMAIL.fullmatch(email)):
            refuse("email", "email_bad", "Not an e-mail address.", "不是电子邮件地址。")
        values["email"] = email
    if "department" in changes:
        department = (changes["department"] or "").strip() or None
        if department is not None and not DEPARTMENT_KEY.fullmatch(department):
            refuse("department", "department_bad",
                   "Not a department key: lower-case letters, digits, _ and -; at most 80.",
                   "不是部门代码：小写字母、数字、_ 和 -，最多 80 个。")  # fmt: skip
        values["department"] = department
    if "is_active" in changes:
        values["is_active"] = bool(changes["is_active"])
    if "roles" in changes:
        values["roles"], problem = _role_problem(list(changes["roles"]))
        if problem:
            problems["roles"] = [problem]
    if "groups" in changes:
        values["groups"], problem = _group_problem(list(changes["groups"]))
        if problem:
            problems["groups"] = [problem]
    _refuse(problems)
    return values


def _user_view(user: User) -> dict:
    return {"display_name": user.display_name, "email": user.email,
            "roles": sorted(user.role_set), "groups": sorted(user.group_keys),
            "department": user.department, "is_active": user.is_active}  # fmt: skip


def set_memberships(username: str, *, roles: list[str], group_keys: list[str],
                    actor: Actor) -> None:  # fmt: skip
    """Give a user exactly these roles (requester always) and groups (see change_user)."""
    change_user(username, roles=roles, groups=group_keys, actor=actor)


def set_department(username: str, department: str | None, *, actor: Actor) -> None:
    """Set (or clear, with None or "") the department of a user (see change_user).

    An agent with a department handles only the requests of that department's offerings.
    """
    change_user(username, department=department, actor=actor)


def set_active(username: str, active: bool, *, actor: Actor) -> None:
    """Deactivate a user or activate them again (see change_user)."""
    change_user(username, is_active=active, actor=actor)


@write_unit
def change_group(key: str, *, name_en: str | None, name_zh: str | None, actor: Actor) -> Group:
    """Rename a group in either language (its key stays: BPMN lanes name it).

    Raises:
        NotFound: no such group. InvalidInput: an empty or too long name.
    """
    group = db.session.scalar(select(Group).filter_by(key=key))
    if group is None:
        raise NotFound(f"no group {key!r}")
    names = {"name_en": name_en, "name_zh": name_zh}
    for field, value in names.items():
        if value is not None and not 0 < len(value.strip()) <= 120:
            raise InvalidInput(f"bad {field}", **as_problem({field: [NAME_LENGTH]}))
    before = {"name_en": group.name_en, "name_zh": group.name_zh}
    for field, value in names.items():
        if value is not None:
            setattr(group, field, value.strip())
    after = {"name_en": group.name_en, "name_zh": group.name_zh}
    if after != before:
        append(AuditKind.GROUP_CHANGED, actor, subject=f"group:{group.id}",
               detail={"key": key, **after, "were": before})  # fmt: skip
    db.session.commit()
    return group


def _checked_role_fields(name_en: str | None, name_zh: str | None,
                         capabilities: list[str] | None) -> dict:  # fmt: skip
    values, problems = {}, {}
    for field, value in (("name_en", name_en), ("name_zh", name_zh)):
        if value is not None:
            if not 0 < len(value.strip()) <= 120:
                problems[field] = [NAME_LENGTH]
            values[field] = value.strip()
    if capabilities is not None:
        unknown = sorted(set(capabilities) - set(Capability))
        if unknown:
            problems["capabilities"] = [
                FieldError(
                    "capability_unknown",
                    texts=(
                        f"Unknown: {', '.join(unknown)}.",
                        f"未知的权限：{', '.join(unknown)}。",
                    ),
                )
            ]
        chosen = [c for c in Capability if c == Capability.REQUEST or c in capabilities]
        values["capabilities"] = ",".join(chosen)
    _refuse(problems)
    return values


@write_unit
def create_role(key: str, name_en: str, name_zh: str, capabilities: list[str], *,
                actor: Actor) -> Role:  # fmt: skip
    """Create a role: a named set of capabilities (request always) that users can hold.

    Raises:
        Conflict: the key is taken (built-in roles included). InvalidInput: a key that is not
        snake_case of at most 20, an unknown capability, an empty name.
    """
    if not ROLE_KEY.fullmatch(key or ""):
        rule = FieldError("role_key", texts=("Lower-case letters, digits and _; at most 20.",
                                             "小写字母、数字和 _，最多 20 个。"))  # fmt: skip
        raise InvalidInput(f"bad role key {key!r}", **as_problem({"key": [rule]}))
    values = _checked_role_fields(name_en or key, name_zh or name_en or key, capabilities)
    if key in role_rules.BUILT_IN or db.session.scalar(select(Role).filter_by(key=key)):
        raise Conflict(f"role {key!r} exists")
    role = Role(key=key, **values)
    db.session.add(role)
    db.session.flush()
    append(AuditKind.ROLE_CREATED, actor, subject=f"role:{key}",
           detail={"key": key, **values})  # fmt: skip
    db.session.commit()
    role_rules.forget()
    return role


def _custom_role(key: str) -> Role:
    if key in role_rules.BUILT_IN:
        raise Conflict(f"{key} is a built-in role: it cannot be changed or deleted")
    role = db.session.scalar(select(Role).filter_by(key=key))
    if role is None:
        raise NotFound(f"no role {key!r}")
    return role


@write_unit
def change_role(key: str, *, name_en: str | None = None, name_zh: str | None = None,
                capabilities: list[str] | None = None, actor: Actor) -> Role:  # fmt: skip
    """Rename a role an admin made, or change what it allows; its holders keep it.

    Raises:
        NotFound: no such role. Conflict: a built-in role, or the change would leave no active
        administrator. InvalidInput: an unknown capability, an empty name.
    """
    role = _custom_role(key)
    values = _checked_role_fields(name_en, name_zh, capabilities)
    before = {"name_en": role.name_en, "name_zh": role.name_zh, "capabilities": role.capabilities}
    for field, value in values.items():
        setattr(role, field, value)
    after = {"name_en": role.name_en, "name_zh": role.name_zh, "capabilities": role.capabilities}
    if after != before:
        db.session.flush()
        role_rules.forget()
        if not _administrators():
            role_rules.forget()
            raise Conflict("that change would leave no active administrator")
        append(AuditKind.ROLE_CHANGED, actor, subject=f"role:{key}",
               detail={"key": key, **after, "were": before})  # fmt: skip
    db.session.commit()
    role_rules.forget()
    return role


@write_unit
def delete_role(key: str, *, actor: Actor) -> None:
    """Delete a role an admin made, once nobody holds it.

    Raises:
        NotFound: no such role. Conflict: a built-in role, or users still hold it.
    """
    role = _custom_role(key)
    holders = list(
        db.session.scalars(select(User.username).where(holds_role(key)).order_by(User.username))
    )
    if holders:
        shown = ", ".join(holders[:5]) + (" …" if len(holders) > 5 else "")
        raise Conflict(f"{len(holders)} user(s) hold the role {key}: {shown}")
    db.session.delete(role)
    append(AuditKind.ROLE_DELETED, actor, subject=f"role:{key}",
           detail={"key": key, "name_en": role.name_en})  # fmt: skip
    db.session.commit()
    role_rules.forget()


@write_unit
def set_locale(user_id: int, locale: str) -> None:
    """Remember a user's language (zh or en) for the web pages.

    Raises:
        InvalidInput: an unsupported language.
    """
    if locale not in LANGUAGES:
        raise InvalidInput(f"unsupported language {locale!r}", errors={"lang": ["zh or en."]})
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    user.locale = locale
    db.session.commit()


@write_unit
def seed_demo() -> list[str]:
    """Create the demo groups and users with well-known tokens `demo-<username>` (demo only)."""
    groups = {}
    for key, (name_en, name_zh) in demo.GROUPS.items():
        group = db.session.scalar(select(Group).filter_by(key=key))
        groups[key] = group or Group(key=key, name_en=name_en, name_zh=name_zh)
        db.session.add(groups[key])
    created = []
    for username, display_name, roles, member_of, locale in demo.USERS:
        if db.session.scalar(select(User).filter_by(username=username)):
            continue
        user = User(
            username=username,
            display_name=display_name,
            roles=roles,
            locale=locale,
            email=f"{username}@example.com",
            department=demo.DEPARTMENTS.get(username),
            groups=[groups[g] for g in member_of],
            password_hash=passwords.hash_password(demo.PASSWORD),
        )
        db.session.add(user)
        db.session.flush()
        _add_token(user, "demo", token=f"demo-{username}")
        created.append(username)
    db.session.commit()
    return created


@dataclass(frozen=True)
class SignInPolicy:
    """How long a web session lasts, and how many wrong passwords lock an account for how long."""

    session_hours: float = 12
    lock_after: int = 5
    lock_minutes: float = 15


def sign_in(username: str, password: str, *, source: str | None, policy: SignInPolicy,
            directory: DirectorySettings | None = None) -> tuple[User, str] | None:  # fmt: skip
    """Check a password and open a server-side session; (user, session token) or None.

    Wrong passwords count; `lock_after` of them in a row lock the account for `lock_minutes`
    (the answer is the same either way, and costs the same). The password is checked before the
    write lock is taken: hashing is slow on purpose.
    """
    user = db.session.scalar(select(User).filter_by(username=username)) if username else None
    stored = user.password_hash if user is not None and user.password_hash else None
    if stored is None and directory is not None:  # no local password: the directory decides
        return _sign_in_directory(username, password, source=source, policy=policy,
                                  directory=directory)  # fmt: skip
    valid = passwords.matches(stored or dummy_hash(), password)
    now = utcnow()
    begin_write()
    user = db.session.get(User, user.id, populate_existing=True) if stored is not None else None
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if user is None or locked or not valid or not user.is_active:
        reason = ("unknown" if user is None else "locked" if locked
                  else "wrong_password" if not valid else "inactive")  # fmt: skip
        _refuse_sign_in(user, username, reason, counts=reason == "wrong_password",
                        source=source, policy=policy, now=now)  # fmt: skip
        return None
    return user, _open_session(user, source=source, policy=policy, method="password")


def _refuse_sign_in(user: User | None, username: str | None, reason: str, *, counts: bool,
                    source: str | None, policy: SignInPolicy, now) -> None:  # fmt: skip
    """Record a refused sign-in (and commit); a wrong password counts towards the lock-out."""
    if user is not None and counts:
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= policy.lock_after:
            user.locked_until = now + timedelta(minutes=policy.lock_minutes)
            user.failed_sign_ins = 0
    append(AuditKind.SIGN_IN_FAILED, Actor(source=source),
           subject=f"user:{user.id}" if user is not None else None,
           detail={"username": (username or "")[:64], "reason": reason})  # fmt: skip
    db.session.commit()


def sign_in_external(person: ldap.DirectoryPerson | None, *, source: str | None,
                     policy: SignInPolicy, method: str) -> tuple[User, str] | None:  # fmt: skip
    """Open a session for someone a single sign-on provider vouched for (OpenID Connect),
    bringing their groups and roles over; None (recorded) for nobody or a deactivated account."""
    begin_write()
    user = (
        db.session.scalar(
            select(User)
            .filter_by(username=person.username)
            .execution_options(populate_existing=True)
        )
        if person
        else None
    )
    if person is None or (user is not None and not user.is_active):
        append(AuditKind.SIGN_IN_FAILED, Actor(source=source),
               subject=f"user:{user.id}" if user is not None else None,
               detail={"username": person.username if person else "", "method": method,
                       "reason": "inactive" if person else "no_username"})  # fmt: skip
        db.session.commit()
        return None
    user = sync.synced(person, Actor(source=source))
    return user, _open_session(user, source=source, policy=policy, method=method)


def _open_session(user: User, *, source: str | None, policy: SignInPolicy, method: str) -> str:
    """Open a web session for a user whose credentials were checked; commit; its token."""
    user.failed_sign_ins, user.locked_until = 0, None
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(id=hash_token(token), user_id=user.id, source=(source or "")[:64] or None,
                    expires_at=utcnow() + timedelta(hours=policy.session_hours))
    )  # fmt: skip
    append(AuditKind.SIGN_IN, Actor(user.id, user.username, source), subject=f"user:{user.id}",
           detail={"method": method})  # fmt: skip
    db.session.commit()
    return token


def _sign_in_directory(username: str, password: str, *, source: str | None,
                       policy: SignInPolicy, directory: DirectorySettings):  # fmt: skip
    """Bind to the directory as the user; on success bring their groups, roles and manager over.

    The directory is asked before the write lock is taken (it may be slow). A local account
    that is locked or deactivated stays refused whatever the directory says.

    Raises:
        Unavailable: the directory cannot be reached.
    """
    db.session.rollback()
    person = ldap.authenticate(directory, username, password)
    begin_write()
    user = db.session.scalar(
        select(User).filter_by(username=username).execution_options(populate_existing=True)
    )
    now = utcnow()
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if person is None or locked or (user is not None and not user.is_active):
        reason = "directory_refused" if person is None else "locked" if locked else "inactive"
        _refuse_sign_in(user, username, reason, counts=reason == "directory_refused",
                        source=source, policy=policy, now=now)  # fmt: skip
        return None
    user = sync.synced(person, Actor(source=source))
    return user, _open_session(user, source=source, policy=policy, method="directory")


@write_unit
def sign_out(token: str, *, source: str | None) -> None:
    """End a web session on the server: its cookie no longer signs anyone in."""
    row = db.session.get(UserSession, hash_token(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        append(AuditKind.SIGN_OUT, Actor(row.user_id, row.user.username, source),
               subject=f"user:{row.user_id}")  # fmt: skip
    db.session.commit()


def _end_sessions(user_id: int) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


@write_unit
def end_sessions(user_id: int) -> None:
    """End every web session of a user (a new password, a deactivation)."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.commit()
