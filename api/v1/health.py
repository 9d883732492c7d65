"""Health check (public) and the current user."""

from flask import jsonify
from flask_smorest import Blueprint

from api.v1.context import current_user, dispatcher
from api.v1.schemas import HealthSchema, UserSchema
from engine.db import ping

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Health and identity")


@blp.get("/health")
@blp.doc(
    operationId="getHealth",
    security=[],
    responses={
        "503": {
            "description": "A part is down: the database, or the in-process worker",
            "content": {"application/json": {"schema": HealthSchema}},
        }
    },
)
@blp.response(200, HealthSchema)
def health():
    """Liveness: the database answers, and the in-process worker (when there is one) runs."""
    ping()
    check = getattr(dispatcher(), "health", None)
    problems = check() if check else []
    if problems:
        response = jsonify({"status": "fail", "problems": problems})
        response.status_code = 503
        return response
    return {"status": "ok"}


@blp.get("/me")
@blp.doc(operationId="getMe")
@blp.response(200, UserSchema)
def me():
    """Who the token belongs to: roles and groups."""
    return current_user()
