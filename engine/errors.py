"""The platform's exception hierarchy: every error raised on purpose is a PlatformError.

`status_of` is the one table from an error to the HTTP status both front ends answer with (the
JSON API as problem+json, the web as an error page); the errors themselves know nothing of HTTP.
"""


class PlatformError(Exception):
    """Base for every error the platform raises on purpose."""

    code = "platform_error"  # stable slug; clients branch on it

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail, self.extra = detail, extra  # extra: JSON-safe context (bpmn_id, errors...)


class NotFound(PlatformError):
    code = "not_found"


class Forbidden(PlatformError):
    code = "forbidden"  # authenticated, but not allowed to act on this object


class Unauthorized(PlatformError):
    code = "unauthorized"  # no or unknown credentials


class Conflict(PlatformError):
    code = "conflict"  # task closed, claimed by someone else, stale version, bad status


class InvalidInput(PlatformError):
    code = "invalid_input"  # extra["errors"] = {field: [messages]}


class InvalidProcess(PlatformError):
    code = (
        "invalid_process"  # BPMN or form problems: extra["problems"] = [{file, line, id, message}]
    )


class ProcessFailed(PlatformError):
    code = "process_failed"  # script/gateway/operation: bpmn_id, trace


class BusinessError(ProcessFailed):
    code = "business_error"  # an operation's modelled failure: extra["error_code"] for BPMN

    def __init__(self, detail: str, *, error_code: str, **extra):
        super().__init__(detail, error_code=error_code, **extra)


class Unavailable(PlatformError):
    code = "unavailable"  # transient; workers retry


STATUS = {  # the most specific class first
    NotFound: 404,
    Forbidden: 403,
    Unauthorized: 401,
    Conflict: 409,
    InvalidInput: 422,
    InvalidProcess: 422,
    ProcessFailed: 500,
    Unavailable: 503,
}


def status_of(exc: PlatformError) -> int:
    """The HTTP status for an error the platform raised on purpose."""
    return next((status for cls, status in STATUS.items() if isinstance(exc, cls)), 500)
