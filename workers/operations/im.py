"""`notify.im`: a text message to the chat robot configured for a channel (WeCom format)."""

import logging

import requests

from engine.errors import ProcessFailed, Unavailable
from workers.operations.context import OperationContext, require

log = logging.getLogger(__name__)


def notify_im(params: dict, ctx: OperationContext) -> dict:
    """Post a text message to the chat robot configured for the channel (WeCom format)."""
    (text,) = require(params, "text")
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
