"""`http.request`: call an HTTP endpoint with the job's idempotency key."""

from urllib.parse import urlparse

import requests

from engine.errors import ProcessFailed, Unavailable
from workers.operations.context import OperationContext, require


def http_request(params: dict, ctx: OperationContext) -> dict:
    """Call an HTTP endpoint; 5xx and network errors are transient, other statuses are returned."""
    method, url = require(params, "method", "url")
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
