"""Units of work on identities: users, tokens, languages, and the demo directory of people."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from engine.db import begin_write, db, utcnow, write_unit
from engine.errors import Conflict, InvalidInput, NotFound
from engine.identity import demo
from engine.identity.models import ApiToken, Group, User, UserSession
from engine.identity.reads import dummy_hash, hash_token
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


@dataclass(frozen=True)
class SignInPolicy:
    """How long a web session lasts, and how many wrong passwords lock an account for how long."""

    session_hours: float = 12
    lock_after: int = 5
    lock_minutes: float = 15


def sign_in(username: str, password: str, *, source: str | None,
            policy: SignInPolicy) -> tuple[User, str] | None:  # fmt: skip
    """Check a password and open a server-side session; (user, session token) or None.

    Wrong passwords count; `lock_after` of them in a row lock the account for `lock_minutes`
    (the answer is the same either way, and costs the same). The password is checked before the
    write lock is taken: hashing is slow on purpose.
    """
    user = db.session.scalar(select(User).filter_by(username=username)) if username else None
    stored = user.password_hash if user is not None and user.password_hash else None
    valid = check_password_hash(stored or dummy_hash(), password)
    now = utcnow()
    if user is None or stored is None:
        db.session.rollback()
        return None
    locked = user.locked_until is not None and user.locked_until > now
    begin_write()
    user = db.session.get(User, user.id)
    if locked or not valid or not user.is_active:
        if not locked and not valid:
            user.failed_sign_ins += 1
            if user.failed_sign_ins >= policy.lock_after:
                user.locked_until = now + timedelta(minutes=policy.lock_minutes)
                user.failed_sign_ins = 0
        db.session.commit()
        return None
    user.failed_sign_ins, user.locked_until = 0, None
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(id=hash_token(token), user_id=user.id, source=(source or "")[:64] or None,
                    expires_at=now + timedelta(hours=policy.session_hours))
    )  # fmt: skip
    db.session.commit()
    return user, token


@write_unit
def sign_out(token: str) -> None:
    """End a web session on the server: its cookie no longer signs anyone in."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == hash_token(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.commit()


@write_unit
def end_sessions(user_id: int) -> None:
    """End every web session of a user (a new password, a deactivation)."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.commit()
