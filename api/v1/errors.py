"""Domain errors as RFC 9457 application/problem+json (status from engine.errors.status_of)."""

import logging

from flask import jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from engine.errors import PlatformError, status_of

log = logging.getLogger(__name__)
TITLES = {
    "not_found": "Not found",
    "forbidden": "Forbidden",
    "unauthorized": "Unauthorized",
    "conflict": "Conflict",
    "invalid_input": "Invalid input",
    "invalid_process": "Invalid process",
    "process_failed": "Process failed",
    "business_error": "Business error",
    "unavailable": "Service unavailable",
    "platform_error": "Error",
    "http_error": "HTTP error",
    "internal_error": "Internal error",
}


def problem(status: int, code: str, detail: str, **extra):
    body = {
        "type": f"/problems/{code}",
        "title": TITLES.get(code, code.replace("_", " ").capitalize()),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="flowdesk"'
    return response


def _platform_error(exc: PlatformError):
    return problem(status_of(exc), exc.code, exc.detail, **exc.extra)


def _validation_error(exc: ValidationError):
    return problem(422, "invalid_input", "The request has errors.", errors=exc.messages)


def _http_error(exc: HTTPException):
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if exc.code in (400, 422) and messages:  # webargs: unparsable JSON (400) or invalid fields
        errors = {}
        for location, location_errors in messages.items():
            if isinstance(location_errors, dict):
                errors.update(location_errors)
            else:
                errors[location] = location_errors  # e.g. {"json": ["Invalid JSON body."]}
        return problem(422, "invalid_input", "The request has errors.", errors=errors)
    code = {404: "not_found", 405: "http_error", 413: "invalid_input"}.get(exc.code, "http_error")
    response = problem(exc.code or 500, code, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":  # e.g. Allow on 405, Retry-After on 503
            response.headers[name] = value
    return response


def _unexpected(exc: Exception):  # the API's 500 handler: log the traceback, say nothing more
    log.exception("unhandled error")
    return problem(500, "internal_error", "An unexpected error occurred; it has been logged.")


def register(app) -> None:
    app.register_error_handler(PlatformError, _platform_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
