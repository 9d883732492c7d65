"""The JSON API under /api/v1 (flask-smorest, OpenAPI 3): parse, call one domain function."""

from flask_smorest import Api

from api.v1 import (
    auth,
    errors,
    failed_steps,
    health,
    instances,
    metrics,
    offerings,
    processes,
    tasks,
)

_SECURITY = {"bearer": {"type": "http", "scheme": "bearer"}}


def register(app) -> None:
    """Register the API's blueprints, token authentication and problem+json errors."""
    api = Api(
        app,
        spec_kwargs={"components": {"securitySchemes": _SECURITY}, "security": [{"bearer": []}]},
    )
    for blueprint in (
        health.blp,
        offerings.blp,
        instances.blp,
        tasks.blp,
        processes.blp,
        failed_steps.blp,
        metrics.blp,
    ):
        api.register_blueprint(blueprint)
    app.before_request(auth.authenticate)
    errors.register(app)
