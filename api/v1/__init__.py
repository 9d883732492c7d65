"""The JSON API under /api/v1 (flask-smorest, OpenAPI 3): parse, call one domain function."""

import http

from flask_smorest import Api
from flask_smorest.spec import prepare_response

from api.v1 import (
    auth,
    errors,
    failed_steps,
    health,
    instances,
    metrics,
    offerings,
    openapi,
    people,
    processes,
    tasks,
)
from api.v1.schemas import ProblemSchema

DESCRIPTION = (
    "Every call but GET /health needs `Authorization: Bearer <token>`. Errors are RFC 9457 "
    "problem+json. Text containing NUL characters (U+0000) is refused with 422 anywhere: "
    "PostgreSQL cannot store it. Identifiers above 2147483647 are never found (404)."
)
_SECURITY = {"bearer": {"type": "http", "scheme": "bearer"}}
BLUEPRINTS = (
    health.blp,
    offerings.blp,
    instances.blp,
    tasks.blp,
    processes.blp,
    failed_steps.blp,
    people.blp,
    metrics.blp,
)


class _Api(Api):
    """flask-smorest's Api, with every error answer documented as problem+json."""

    ERROR_SCHEMA = ProblemSchema
    PROBLEM = "application/problem+json"

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, self.PROBLEM)
            else:
                prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as RFC 9457 problem+json", "schema": ProblemSchema}
        prepare_response(response, self.spec, self.PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def register(app) -> None:
    """Register the API's blueprints, token authentication and problem+json errors."""
    api = _Api(
        app,
        spec_kwargs={
            "components": {"securitySchemes": _SECURITY},
            "security": [{"bearer": []}],
            "marshmallow_plugin": openapi.marshmallow_plugin(),
            "info": {"description": DESCRIPTION},
        },
    )
    openapi.register(app, api)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.before_request(auth.authenticate)
    errors.register(app)
