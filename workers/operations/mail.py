"""`mail.send`: a plain-text mail over SMTP, with a Message-ID derived from the job."""

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from engine.errors import ProcessFailed, Unavailable
from workers.operations.context import OperationContext, require

log = logging.getLogger(__name__)
MAIL_DOMAIN = "flowdesk.local"


def send_mail(params: dict, ctx: OperationContext) -> dict:
    """Send a plain-text mail over SMTP with a Message-ID derived from the job (stable on retry)."""
    to, subject, body = require(params, "to", "subject", "body")
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
