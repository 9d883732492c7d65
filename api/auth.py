"""API-token authentication: `Authorization: Bearer <token>`; tokens are stored as SHA-256."""

import hashlib
import secrets

from flask import g, request
from sqlalchemy import select

from engine.errors import Unauthorized
from engine.models import ApiToken, User, db

PUBLIC_ENDPOINTS = {"health.health", "static"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str = "default", token: str | None = None) -> str:
    """Create an API token for a user; return the clear token (shown once, never stored)."""
    token = token or secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=name))
    return token


def authenticate() -> None:
    """before_request: resolve the bearer token to g.user, or answer 401."""
    if not request.path.startswith("/api/"):
        return  # the web pages (admin/) have their own session login
    if request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API token: 'Authorization: Bearer <token>'.")
    row = db.session.scalar(select(ApiToken).filter_by(token_hash=hash_token(token.strip())))
    if row is None or not row.user.is_active:
        raise Unauthorized("The API token is unknown or revoked.")
    g.user = row.user


def current_user() -> User:
    return g.user
