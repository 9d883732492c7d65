"""Units of work on identities: users, tokens, languages, and the demo directory of people."""

import secrets

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from engine.db import db, write_unit
from engine.errors import Conflict, InvalidInput, NotFound
from engine.identity import demo
from engine.identity.models import ApiToken, Group, User
from engine.identity.reads import hash_token
from engine.identity.roles import ROLES

LANGUAGES = ("zh", "en")


def _add_token(user: User, name: str, token: str | None = None) -> str:
    token = token or secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=name))
    return token


@write_unit
def issue_token(username: str, *, name: str = "cli") -> str:
    """Create an API token for a user; return the clear token (shown once, never stored).

    Raises:
        NotFound: no such user.
    """
    user = db.session.scalar(select(User).filter_by(username=username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    token = _add_token(user, name)
    db.session.commit()
    return token


@write_unit
def create_user(username: str, display_name: str, *, roles: str, group_keys: list[str]) -> str:
    """Create a user in the given groups; return an API token for them.

    Raises:
        Conflict: the username is taken. InvalidInput: an unknown role or group.
    """
    if db.session.scalar(select(User).filter_by(username=username)):
        raise Conflict(f"user {username!r} exists")
    unknown_roles = sorted({r.strip() for r in roles.split(",") if r.strip()} - set(ROLES))
    if unknown_roles:
        raise InvalidInput(
            f"unknown role(s): {', '.join(unknown_roles)}",
            errors={"roles": [f"One of {', '.join(ROLES)}."]},
        )
    found = list(db.session.scalars(select(Group).where(Group.key.in_(group_keys))))
    missing = sorted(set(group_keys) - {g.key for g in found})
    if missing:
        raise InvalidInput(
            f"unknown group(s): {', '.join(missing)}", errors={"groups": ["Unknown group."]}
        )
    user = User(username=username, display_name=display_name, roles=roles, groups=found)
    db.session.add(user)
    db.session.flush()
    token = _add_token(user, "cli")
    db.session.commit()
    return token


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
            groups=[groups[g] for g in member_of],
            password_hash=generate_password_hash(demo.PASSWORD),
        )
        db.session.add(user)
        db.session.flush()
        _add_token(user, "demo", token=f"demo-{username}")
        created.append(username)
    db.session.commit()
    return created
