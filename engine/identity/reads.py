"""Who is asking: a user from an API token or a password, groups and their members."""

import functools
import hashlib
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.security import generate_password_hash

from engine.db import db, is_row_id, utcnow
from engine.identity.models import ApiToken, Group, User, UserSession, holds_role

TOKEN_USE_EVERY = timedelta(hours=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_row(token: str) -> ApiToken | None:
    """The API token row of an active user, or None: unknown, revoked, expired, deactivated."""
    row = db.session.scalar(  # its user in the same statement: every API call needs both
        select(ApiToken).filter_by(token_hash=hash_token(token)).options(joinedload(ApiToken.user))
    )
    if row is None or not row.is_usable(utcnow()) or not row.user.is_active:
        return None
    return row


def user_for_token(token: str) -> User | None:
    """The active user an API token belongs to, or None for an unknown or revoked token."""
    row = token_row(token)
    return row.user if row is not None else None


def token_use_is_due(row: ApiToken) -> bool:
    """Record a token's use at most once an hour: an audit row per API call would be a write
    (SQLite's one write lock) on every read."""
    return row.last_used_at is None or utcnow() - row.last_used_at >= TOKEN_USE_EVERY


def tokens_of(user_id: int) -> list[ApiToken]:
    """A user's tokens that still work, newest first."""
    now = utcnow()
    rows = db.session.scalars(
        select(ApiToken).filter_by(user_id=user_id).order_by(ApiToken.id.desc())
    )
    return [row for row in rows if row.is_usable(now)]


def all_tokens() -> list[ApiToken]:
    """Every working token of every user, newest first (the admin's token page)."""
    now = utcnow()
    rows = db.session.scalars(
        select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id.desc())
    )
    return [row for row in rows if row.is_usable(now)]


def token_owner(token_id: int) -> int | None:
    return (
        db.session.scalar(select(ApiToken.user_id).filter_by(id=token_id))
        if is_row_id(token_id)
        else None
    )


def role_counts() -> Counter:
    """How many users hold each role key (one query: users share few role combinations)."""
    counts = Counter()
    for roles, users in db.session.execute(select(User.roles, func.count()).group_by(User.roles)):
        for key in {r.strip() for r in roles.split(",") if r.strip()}:
            counts[key] += users
    return counts


def users_query(*, group: str | None = None, role: str | None = None):
    """Every user by username, optionally of one group or with one role."""
    query = select(User).options(selectinload(User.groups))
    if group:
        query = query.where(User.groups.any(Group.key == group))
    if role:
        query = query.where(holds_role(role))
    return query.order_by(User.username)


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
