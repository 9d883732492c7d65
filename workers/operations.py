"""Operations: the Python functions behind BPMN service tasks, registered as `<system>.<verb>`.

Each takes the evaluated BPMN parameters and an OperationContext and returns a JSON-safe result.
Transient failures raise Unavailable (the job is retried with backoff); business failures raise
ProcessFailed (the step goes to error at once). Every call carries an idempotency key.
"""

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlparse

import requests
from sqlalchemy import select

from engine.errors import BusinessError, ProcessFailed, Unavailable
from engine.models import DirectoryAccount, begin_write, db

log = logging.getLogger(__name__)
MAIL_DOMAIN = "flowdesk.local"


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


def _require(params: dict, *names: str) -> list:
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise ProcessFailed(f"missing parameter(s): {', '.join(missing)}", missing=missing)
    return [params[n] for n in names]


def http_request(params: dict, ctx: OperationContext) -> dict:
    """Call an HTTP endpoint; 5xx and network errors are transient, other statuses are returned."""
    method, url = _require(params, "method", "url")
    if urlparse(str(url)).scheme not in ("http", "https"):
        raise ProcessFailed(f"refusing URL scheme of {url!r}")
    try:
        response = requests.request(
            str(method).upper(),
            str(url),
            json=params.get("json"),
            headers={"Idempotency-Key": ctx.idempotency_key, **(params.get("headers") or {})},
            timeout=float(ctx.config.get("HTTP_TIMEOUT", 10)),
        )
    except requests.RequestException as exc:
        raise Unavailable(f"{method} {url}: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise Unavailable(f"{method} {url}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = response.text[:10000]
    return {"status": response.status_code, "body": body}


def send_mail(params: dict, ctx: OperationContext) -> dict:
    """Send a plain-text mail over SMTP with a Message-ID derived from the job (stable on retry)."""
    to, subject, body = _require(params, "to", "subject", "body")
    message = EmailMessage()
    message["From"] = ctx.config.get("MAIL_FROM", f"FlowDesk <noreply@{MAIL_DOMAIN}>")
    message["To"] = str(to)
    message["Subject"] = str(subject)[:300]
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=ctx.idempotency_key, domain=MAIL_DOMAIN)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(str(body))
    host = ctx.config.get("SMTP_HOST")
    if not host:
        log.info("instance %s: SMTP_HOST not set, mail to %s not sent", ctx.instance_id, to)
        return {"sent": False, "reason": "smtp_not_configured", "message_id": message["Message-ID"]}
    try:
        with smtplib.SMTP(host, int(ctx.config.get("SMTP_PORT", 25)), timeout=15) as smtp:
            if ctx.config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if ctx.config.get("SMTP_USER"):
                smtp.login(ctx.config["SMTP_USER"], ctx.config.get("SMTP_PASSWORD", ""))
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise Unavailable(f"SMTP {exc.smtp_code}") from exc
        raise ProcessFailed(f"SMTP refused the mail: {exc.smtp_code}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise Unavailable(f"SMTP: {type(exc).__name__}") from exc
    return {"sent": True, "message_id": message["Message-ID"]}


def notify_im(params: dict, ctx: OperationContext) -> dict:
    """Post a text message to the chat robot configured for the channel (WeCom format)."""
    (text,) = _require(params, "text")
    channel = str(params.get("channel") or "default")
    hooks = ctx.config.get("IM_WEBHOOKS") or {}
    url = hooks.get(channel) or hooks.get("default")
    if not url:
        log.info("instance %s: no IM webhook for channel %s", ctx.instance_id, channel)
        return {"delivered": False, "reason": "channel_not_configured", "channel": channel}
    payload = {
        "msgtype": "text",
        "text": {"content": str(text).encode()[:2000].decode(errors="ignore")},
    }
    try:
        response = requests.post(
            url, json=payload, timeout=float(ctx.config.get("HTTP_TIMEOUT", 10))
        )
    except requests.RequestException as exc:
        raise Unavailable(f"IM webhook: {type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise Unavailable(f"IM webhook: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise ProcessFailed(f"IM webhook refused the message: HTTP {response.status_code}")
    return {"delivered": True, "channel": channel}


def create_account(params: dict, ctx: OperationContext) -> dict:
    """Create a directory account; a retry of the same job returns the account it created."""
    username, full_name = _require(params, "username", "full_name")
    begin_write()  # read, then write: take SQLite's write lock before the read
    account = db.session.scalar(select(DirectoryAccount).filter_by(username=str(username)))
    if account is not None and account.created_by_job_id != ctx.job_id:
        db.session.rollback()
        raise BusinessError(
            f"the username '{username}' is already taken", error_code="username_taken"
        )
    if account is None:
        account = DirectoryAccount(
            username=str(username),
            full_name=str(full_name),
            email=f"{username}@example.com",
            department=params.get("department"),
            employment_type=params.get("employment_type"),
            created_by_job_id=ctx.job_id,
        )
        db.session.add(account)
    db.session.commit()
    return {"username": account.username, "email": account.email, "created": True}


def grant_vpn(params: dict, ctx: OperationContext) -> dict:
    """Give a directory account a VPN profile (idempotent: granting twice changes nothing)."""
    username, profile = _require(params, "username", "profile")
    begin_write()
    account = db.session.scalar(select(DirectoryAccount).filter_by(username=str(username)))
    if account is None:
        db.session.rollback()
        raise ProcessFailed(f"no directory account '{username}'", username=username)
    account.vpn_profile = str(profile)
    db.session.commit()
    return {"username": account.username, "vpn_profile": account.vpn_profile, "granted": True}


OPERATIONS = {
    "http.request": http_request,
    "mail.send": send_mail,
    "notify.im": notify_im,
    "directory.create_account": create_account,
    "directory.grant_vpn": grant_vpn,
}
