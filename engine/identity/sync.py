"""A directory person's local account: created or brought up to date at each sign-in."""

from sqlalchemy import select

from engine.audit.kinds import AuditKind
from engine.audit.service import Actor, append
from engine.db import db
from engine.identity import roles
from engine.identity.ldap import DirectoryPerson
from engine.identity.models import GROUP_KEY, MAX_ROLES, Group, User


def synced(person: DirectoryPerson, actor: Actor) -> User:
    """The local account of a directory person, with the directory's name, groups, roles and
    manager (the directory is their source of truth: what it no longer says is taken away)."""
    user = db.session.scalar(
        select(User).filter_by(username=person.username).execution_options(populate_existing=True)
    )
    if user is None:
        user = User(username=person.username, display_name=person.display_name, roles="requester")
        db.session.add(user)
    before = (user.roles, sorted(user.group_keys), user.manager_id)
    user.display_name = person.display_name[:120] or person.username
    user.email = person.email[:200]
    user.department = (person.department or "")[:80] or user.department
    chosen = [r for r in roles.known() if r == "requester" or r in person.roles]
    user.roles = ",".join(chosen[:MAX_ROLES])
    user.groups = [_group(key) for key in person.groups if GROUP_KEY.fullmatch(key)]
    if person.manager is not None and person.manager.username:
        manager = db.session.scalar(select(User).filter_by(username=person.manager.username))
        if manager is None:  # known to the org chart before they ever sign in
            boss = person.manager
            manager = User(username=boss.username, roles="requester",
                           display_name=boss.display_name[:120] or boss.username,
                           email=boss.email[:200])  # fmt: skip
            db.session.add(manager)
            db.session.flush()
        user.manager_id = manager.id
    db.session.flush()
    if (user.roles, sorted(user.group_keys), user.manager_id) != before:
        detail = {"username": user.username, "roles": user.roles, "from": "directory",
                  "groups": sorted(user.group_keys), "manager_id": user.manager_id}  # fmt: skip
        append(AuditKind.USER_CHANGED, actor, subject=f"user:{user.id}", detail=detail)
    return user


def _group(key: str) -> Group:
    group = db.session.scalar(select(Group).filter_by(key=key))
    if group is None:
        group = Group(key=key, name_en=key, name_zh=key)
        db.session.add(group)
    return group


def person_from_claims(
    claims: dict, *, group_map: dict, username_claim: str, groups_claim: str, department_claim: str
) -> DirectoryPerson | None:
    """The person an OpenID Connect ID token (or userinfo) describes, groups mapped; None when
    it names no usable username."""
    username = str(claims.get(username_claim) or "").strip().lower()
    if not username or len(username) > 64:
        return None
    named = claims.get(groups_claim) or []
    keys, roles = [], []
    for name in named if isinstance(named, list) else [named]:
        mapped = group_map.get(str(name)) or {}
        keys += [k for k in mapped.get("groups", []) if k not in keys]
        roles += [r for r in mapped.get("roles", []) if r not in roles]
    department = claims.get(department_claim) if department_claim else None
    return DirectoryPerson(
        username=username, display_name=str(claims.get("name") or username)[:120],
        email=str(claims.get("email") or "")[:200],
        department=str(department)[:80] if department else None, groups=keys, roles=roles,
    )  # fmt: skip
