"""Health check (public) and the current user."""

from flask_smorest import Blueprint

from api.v1.context import current_user
from api.v1.schemas import UserSchema
from engine.db import ping

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Health and identity")


@blp.get("/health")
def health():
    """Liveness and database reachability; needs no token."""
    ping()
    return {"status": "ok"}


@blp.get("/me")
@blp.response(200, UserSchema)
def me():
    """Who the token belongs to: roles and groups."""
    return current_user()
