"""Who is asking: a user from an API token or a password, groups and their members."""

import functools
import hashlib

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from engine.db import db, utcnow
from engine.identity.models import ApiToken, Group, User, UserSession


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_token(token: str) -> User | None:
    """The active user an API token belongs to, or None for an unknown or revoked token."""
    row = db.session.scalar(select(ApiToken).filter_by(token_hash=hash_token(token)))
    if row is None or not row.user.is_active:
        return None
    return row.user


@functools.cache
def dummy_hash() -> str:
    """A hash to check unknown users' passwords against (same time as a real check).

    Made on first use, not at import: scrypt takes 32 MiB for a moment, which every process
    importing the app (RQ workers, CLI) would otherwise carry as its peak memory.
    """
    return generate_password_hash("not a password")


def session_user(token: str) -> User | None:
    """The active user of an open, unexpired web session, or None."""
    row = db.session.get(UserSession, hash_token(token)) if token else None
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row.user if row.user.is_active else None


def user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).filter_by(username=username))


def groups() -> dict[str, Group]:
    """Every group by key (a small table, read once per page)."""
    return {g.key: g for g in db.session.scalars(select(Group))}


def group_members(key: str | None) -> list[User]:
    """The active members of a group, by display name."""
    if not key:
        return []
    group = db.session.scalar(select(Group).filter_by(key=key))
    if group is None:
        return []
    return sorted((u for u in group.members if u.is_active), key=lambda u: u.display_name)
