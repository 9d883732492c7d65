"""Every setting and its default. Environment variables FLOWDESK_<NAME> override them."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "SECRET_KEY": None,  # required outside demo/testing: FLOWDESK_SECRET_KEY
    "DATABASE_URL": f"sqlite:///{ROOT / 'instance' / 'flowdesk.db'}",
    "REDIS_URL": "",  # empty: jobs run in an in-process worker thread
    "DISPATCHER": "auto",  # auto (rq if REDIS_URL else inline), inline, rq, record
    "QUEUE_NAME": "flowdesk",
    "PROCESSES_DIR": str(ROOT / "processes"),
    "TIMER_POLL_SECONDS": 1.0,
    "JOB_MAX_ATTEMPTS": 4,  # attempts of a transiently failing operation before the step fails
    "RETRY_INTERVALS": [10, 60, 300],  # seconds between attempts (the last one repeats)
    "JOB_STALE_SECONDS": 600,  # a queued job untouched this long is re-sent (lost wake-up)
    "HTTP_TIMEOUT": 10,
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "FlowDesk <noreply@flowdesk.local>",
    "IM_WEBHOOKS": {},  # {"channel": "https://robot url"}; "default" catches the rest
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "DEMO": False,  # seeds demo users with well-known tokens; never in production
    "API_TITLE": "FlowDesk API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}
