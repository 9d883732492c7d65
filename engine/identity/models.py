"""Users, the groups whose inboxes they share, and their API tokens (stored as SHA-256)."""

import re

from sqlalchemy import or_

from engine.db import db, utcnow

GROUP_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")  # a group's key: BPMN lanes name it
ROLE_KEY = re.compile(r"[a-z][a-z0-9_]{0,19}")  # a role's key, as users' `roles` list it
MAX_ROLES = 8  # roles one user holds: 8 keys of 20 fit `User.roles`

group_member = db.Table(
    "group_member",
    db.Column("group_id", db.ForeignKey("user_group.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", db.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    __tablename__ = "user_account"
    keep_loaded = True  # read once per request (engine.db.expire_changing); writes re-read it
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), unique=True, nullable=False)
    display_name = db.Column(db.String(120), nullable=False)
    email = db.Column(db.String(200), nullable=False, default="")
    roles = db.Column(db.String(200), nullable=False, default="requester")  # comma-separated
    locale = db.Column(db.String(10), nullable=False, default="en")
    department = db.Column(db.String(80), nullable=True)
    manager_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)
    password_hash = db.Column(db.String(255), nullable=True)
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    failed_sign_ins = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    locked_until = db.Column(db.DateTime, nullable=True)  # too many wrong passwords
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    groups = db.relationship("Group", secondary=group_member, back_populates="members")

    @property
    def role_set(self) -> set[str]:
        return {r.strip() for r in self.roles.split(",") if r.strip()}

    @property
    def group_keys(self) -> set[str]:
        return {g.key for g in self.groups}


def holds_role(*keys: str):
    """SQL: the user holds one of these roles (`User.roles` lists them comma-separated; a key's
    `_` or `%` is matched as itself, not as a LIKE wildcard)."""
    padded = "," + User.roles + ","
    return or_(*(padded.contains(f",{key},", autoescape=True) for key in keys))


class Group(db.Model):
    __tablename__ = "user_group"
    keep_loaded = True
    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(64), unique=True, nullable=False)
    name_en = db.Column(db.String(120), nullable=False)
    name_zh = db.Column(db.String(120), nullable=False)
    members = db.relationship("User", secondary=group_member, back_populates="groups")

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


class Role(db.Model):
    """A role an admin made: a named set of capabilities (the built-in roles live in code)."""

    __tablename__ = "user_role"
    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(20), unique=True, nullable=False)
    name_en = db.Column(db.String(120), nullable=False)
    name_zh = db.Column(db.String(120), nullable=False)
    capabilities = db.Column(db.String(400), nullable=False, default="")  # comma-separated
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    @property
    def capability_set(self) -> set[str]:
        return {c for c in self.capabilities.split(",") if c}


class ApiToken(db.Model):
    __tablename__ = "api_token"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False)
    token_hash = db.Column(
        db.String(64), unique=True, nullable=False
    )  # sha256 hex, never the token
    name = db.Column(db.String(80), nullable=False, default="default")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    scopes = db.Column(
        db.String(40), nullable=False, default="read,write", server_default="read,write"
    )
    expires_at = db.Column(db.DateTime, nullable=True)  # None: until revoked
    revoked_at = db.Column(db.DateTime, nullable=True)
    last_used_at = db.Column(db.DateTime, nullable=True)  # to the hour (see reads.token_use)
    user = db.relationship("User")

    @property
    def scope_set(self) -> set[str]:
        return {s for s in self.scopes.split(",") if s}

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class UserSession(db.Model):
    """A signed-in web session, kept on the server: signing out or a new password ends it."""

    __tablename__ = "user_session"
    id = db.Column(db.String(64), primary_key=True)  # sha256 of the random token in the cookie
    user_id = db.Column(
        db.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    revoked_at = db.Column(db.DateTime, nullable=True)
    source = db.Column(db.String(64), nullable=True)  # the address it was opened from
    user = db.relationship("User")
