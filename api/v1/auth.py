"""API-token authentication: `Authorization: Bearer <token>` resolved to the caller."""

from flask import g, request
from flask_login import current_user

from engine.errors import Forbidden, Unauthorized
from engine.identity import reads as identity
from engine.identity import service as identity_service

READ_METHODS = ("GET", "HEAD")
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
    row = identity.token_row(token.strip())
    if row is None:
        raise Unauthorized("The API token is unknown, expired or revoked.")
    if request.method not in READ_METHODS and "write" not in row.scope_set:
        raise Forbidden("This API token may only read (its scopes: read).")
    if identity.token_use_is_due(row):
        identity_service.note_token_use(
            row.id, source=request.remote_addr, method=request.method, path=request.path
        )
    g.user, g.token_id = row.user, row.id
