"""The composition root: create_app() wires settings, database, domains, both front ends, CLI."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate

import admin
from api import cli
from api import v1 as json_api
from api.config import DEFAULTS, ROOT
from engine import clock
from engine.catalog import service as catalog
from engine.catalog.bundles import ProcessLibrary
from engine.db import configure_sqlite, db
from workers.dispatch import make_dispatcher
from workers.operations import OPERATION_NAMES

log = logging.getLogger(__name__)
migrate = Migrate()


@dataclass
class FlowDesk:
    """Per-process state: the bundled library, the dispatcher, the operations there are."""

    library: ProcessLibrary
    dispatch: object
    operations: frozenset = field(default=OPERATION_NAMES)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.json.ensure_ascii = False  # readable Chinese in API bodies
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FLOWDESK")
    app.config.from_mapping(config or {})
    _check_secret(app)
    clock.set_zone(app.config["BUSINESS_TIMEZONE"])
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
    json_api.register(app)
    admin.register(app)
    app.after_request(_security_headers)
    cli.register(app)
    return app


def _security_headers(response):
    """Headers for every answer, API and web (the web adds its CSP in admin/web.py)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


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
