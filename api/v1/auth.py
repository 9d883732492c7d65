"""API-token authentication: `Authorization: Bearer <token>` resolved to the caller."""

from flask import g, request

from engine.errors import Unauthorized
from engine.identity import reads as identity

PUBLIC_ENDPOINTS = {"health.health", "static"}


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
    user = identity.user_for_token(token.strip())
    if user is None:
        raise Unauthorized("The API token is unknown or revoked.")
    g.user = user
