"""The composition root: create_app() wires settings, database, domains, both front ends, CLI."""

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

import admin
from api import cli
from api import v1 as json_api
from api.config import DEFAULTS, ROOT
from engine import clock
from engine.audit import service as audit
from engine.bpmn import cron
from engine.catalog import service as catalog
from engine.catalog.bundles import ProcessLibrary
from engine.db import configure_sqlite, db
from engine.errors import InvalidInput
from workers.changes import LocalChanges, make_changes, publish_commits
from workers.dispatch import make_dispatcher
from workers.operations import OPERATION_NAMES

log = logging.getLogger(__name__)
migrate = Migrate()


@dataclass
class FlowDesk:
    """Per-process state: the bundled library, the dispatcher, the operations there are."""

    library: ProcessLibrary
    dispatch: object
    changes: LocalChanges = field(default_factory=LocalChanges)
    operations: frozenset = field(default=OPERATION_NAMES)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.json.ensure_ascii = False  # readable Chinese in API bodies
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FLOWDESK")
    app.config.from_mapping(config or {})
    _check_secret(app)
    _behind_proxy(app)
    clock.set_zone(app.config["BUSINESS_TIMEZONE"])
    cron.set_zone(clock.zone())  # cron timer cycles fire at business times
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    if not app.config["ATTACHMENTS_DIR"]:
        app.config["ATTACHMENTS_DIR"] = str(Path(app.instance_path) / "attachments")
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    app.extensions["flowdesk"] = FlowDesk(
        library=ProcessLibrary.load(Path(app.config["PROCESSES_DIR"])), dispatch=None
    )
    app.extensions["flowdesk"].dispatch = make_dispatcher(app)
    app.extensions["flowdesk"].changes = make_changes(app)
    with app.app_context():
        publish_commits(app.extensions["flowdesk"].changes, db.engine)
    app.before_request(_guard_request)
    app.before_request(_note_source)
    limiter = _limiter(app)  # its check must run before the API's token check
    json_api.register(app)
    admin.register(app)
    _rate_limits(app, limiter)
    app.after_request(_security_headers)
    cli.register(app)
    return app


def _behind_proxy(app: Flask) -> None:
    """Trust X-Forwarded-* from PROXY_HOPS reverse proxies (the client address, https, host).

    Only as many hops as are configured: a client's own X-Forwarded-For is never believed, so
    rate limits, lock-outs and the audit trail see the address the nearest trusted proxy saw.
    """
    try:
        hops = int(app.config["PROXY_HOPS"])
    except (TypeError, ValueError):
        value = app.config["PROXY_HOPS"]
        raise ValueError(f"FLOWDESK_PROXY_HOPS must be a whole number, not {value!r}") from None
    if hops < 0:
        raise ValueError("FLOWDESK_PROXY_HOPS must not be negative")
    if hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )


def _security_headers(response):
    """Headers for every answer, API and web (the web adds its CSP in admin/web.py)."""
    hsts = int(current_app.config["HSTS_SECONDS"])
    if hsts > 0 and request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", f"max-age={hsts}")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


MAX_URL_CHARS = 8192
MAX_HEADER_BYTES = 32 * 1024
MAX_JSON_DEPTH = 64


def _note_source() -> None:
    """The client's address (after ProxyFix) for the audit log of the changes this request makes."""
    audit.set_source((request.remote_addr or "")[:64] or None)


def _guard_request() -> None:
    """Refuse, before anything reads it, input no answer could be built on.

    Too long a URL or too many header bytes (414, 431), NUL characters (PostgreSQL cannot store
    them) and JSON nested deeper than MAX_JSON_DEPTH (the parser would recurse out of stack).
    """
    if len(request.full_path) > MAX_URL_CHARS:
        raise RequestURITooLarge()
    if sum(len(k) + len(v) for k, v in request.headers.items()) > MAX_HEADER_BYTES:
        raise RequestHeaderFieldsTooLarge()
    texts = [*request.headers.values(), *request.args.values(), request.path]
    if any("\x00" in value for value in texts):
        raise InvalidInput("NUL characters are not accepted.", errors={"_request": ["NUL."]})
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        body = request.get_data(cache=True)
        if b"\\u0000" in body or b"\x00" in body:
            raise InvalidInput("NUL characters are not accepted.", errors={"json": ["NUL."]})
        if _json_depth(body) > MAX_JSON_DEPTH:
            raise InvalidInput(f"JSON nested more than {MAX_JSON_DEPTH} deep is not accepted.",
                               errors={"json": ["Nested too deep."]})  # fmt: skip
    elif request.method in ("POST", "PUT", "PATCH") and request.form:
        if any("\x00" in value for values in request.form.listvalues() for value in values):
            raise InvalidInput("NUL characters are not accepted.", errors={"_form": ["NUL."]})


_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _json_depth(body: bytes) -> int:
    """The deepest nesting of [ and { in a JSON text, outside strings (no parsing)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be deeper
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(body):
        mark = token.group()
        if mark in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif mark in (b"]", b"}"):
            depth -= 1
    return deepest


def _failed(response) -> bool:
    return response.status_code == 401


def _limiter(app: Flask) -> Limiter:
    storage = app.config["RATE_LIMIT_STORAGE"] or app.config["REDIS_URL"] or "memory://"
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # Redis down must not take the web down: count in this process meanwhile, and never let a
    # storage error reach a request (the database, not Redis, is what must be up).
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    if storage.startswith(("redis://", "rediss://")):
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 2, "socket_connect_timeout": 1}
        )
    return Limiter(get_remote_address, app=app)


def _rate_limits(app: Flask, limiter: Limiter) -> None:
    """Failed sign-ins and API calls with a wrong or missing token are limited per address.

    Only failures count (successful calls are not slowed); the storage is Redis when the
    platform has one, so every web process counts together.
    """
    login = app.view_functions["web.login"]
    app.view_functions["web.login"] = limiter.limit(
        app.config["SIGN_IN_RATE_LIMIT"], methods=["POST"], deduct_when=_failed
    )(login)
    for blueprint in json_api.BLUEPRINTS:
        limiter.limit(app.config["API_AUTH_RATE_LIMIT"], deduct_when=_failed)(blueprint)
    app.extensions["flowdesk_limiter"] = limiter


def sync_bundled(app: Flask) -> list:
    """Deploy the bundled offerings whose content changed (at start of every process)."""
    flowdesk = app.extensions["flowdesk"]
    with app.app_context():
        return catalog.sync_library(flowdesk.library, operations=flowdesk.operations)


def _check_secret(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("TESTING") or app.config.get("DEMO"):
        app.config["SECRET_KEY"] = "flowdesk-demo-only-not-secret"
        return
    raise RuntimeError("FLOWDESK_SECRET_KEY is not set (FLOWDESK_DEMO=1 allows a demo key)")
