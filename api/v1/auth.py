"""API-token authentication: `Authorization: Bearer <token>` resolved to the caller."""

from flask import g, request
from flask_login import current_user

from engine.errors import Unauthorized
from engine.identity import reads as identity

PUBLIC_ENDPOINTS = {"health.health", "static"}
DOCS_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui"}  # for the web's users


def authenticate() -> None:
    """before_request: resolve the bearer token to g.user, or answer 401."""
    if not request.path.startswith("/api/"):
        return  # the web pages (admin/) have their own session login
    if request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
        return
    header = request.headers.get("Authorization", "")
    if not header and request.endpoint in DOCS_ENDPOINTS and current_user.is_authenticated:
        g.user = current_user.user  # the browsable documentation, in a signed-in browser
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API token: 'Authorization: Bearer <token>'.")
    user = identity.user_for_token(token.strip())
    if user is None:
        raise Unauthorized("The API token is unknown or revoked.")
    g.user = user
