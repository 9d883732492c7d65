"""Health check (public) and the current user."""

from flask_smorest import Blueprint
from sqlalchemy import text

from api.auth import current_user
from api.schemas import UserSchema
from engine.models import db

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Health and identity")


@blp.get("/health")
def health():
    """Liveness and database reachability; needs no token."""
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    return {"status": "ok"}


@blp.get("/me")
@blp.response(200, UserSchema)
def me():
    """Who the token belongs to: roles and groups."""
    return current_user()
