"""What an operation knows about its call, and the helpers every operation uses."""

from dataclasses import dataclass, field

from engine.errors import ProcessFailed

# The settings operations see (FLOWDESK_<NAME>); nothing else of the configuration reaches them.
SETTINGS = (
    "HTTP_TIMEOUT",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_STARTTLS",
    "MAIL_FROM",
    "IM_WEBHOOKS",
)


@dataclass(frozen=True)
class OperationContext:
    """What an operation knows about its call: ids for idempotency, and its settings."""

    job_id: int
    instance_id: int
    attempt: int
    config: dict = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        return f"flowdesk-job-{self.job_id}"


def require(params: dict, *names: str) -> list:
    """The named parameters, or ProcessFailed naming the missing ones."""
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise ProcessFailed(f"missing parameter(s): {', '.join(missing)}", missing=missing)
    return [params[n] for n in names]
