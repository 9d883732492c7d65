"""create_app(): configuration, extensions, blueprints, error handlers, CLI."""

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from flask_smorest import Api

import admin
from api import (
    auth,
    cli,
    errors,
    health,
    incidents,
    instances,
    metrics,
    offerings,
    processes,
    tasks,
)
from api.config import DEFAULTS, ROOT
from engine.models import configure_sqlite, db
from engine.specs import ProcessLibrary
from forms.registry import FormRegistry
from workers.dispatch import make_dispatcher

log = logging.getLogger(__name__)
migrate = Migrate()


@dataclass
class FlowDesk:
    """Per-process state: the parsed bundled processes, the form registry, the dispatcher."""

    library: ProcessLibrary
    forms: FormRegistry
    dispatch: object


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.json.ensure_ascii = False  # readable Chinese in API bodies
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FLOWDESK")
    app.config.from_mapping(config or {})
    _check_secret(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    app.extensions["flowdesk"] = FlowDesk(
        library=ProcessLibrary.load(Path(app.config["PROCESSES_DIR"])),
        forms=FormRegistry.load(),
        dispatch=None,
    )
    app.extensions["flowdesk"].dispatch = make_dispatcher(app)
    api = Api(
        app,
        spec_kwargs={"components": {"securitySchemes": _SECURITY}, "security": [{"bearer": []}]},
    )
    for blueprint in (
        health.blp,
        offerings.blp,
        instances.blp,
        tasks.blp,
        processes.blp,
        incidents.blp,
        metrics.blp,
    ):
        api.register_blueprint(blueprint)
    app.before_request(auth.authenticate)
    admin.register(app)
    app.after_request(_security_headers)
    errors.register(app)
    cli.register(app)
    return app


_SECURITY = {"bearer": {"type": "http", "scheme": "bearer"}}


def _check_secret(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("TESTING") or app.config.get("DEMO"):
        app.config["SECRET_KEY"] = "flowdesk-demo-only-not-secret"
        return
    raise RuntimeError("FLOWDESK_SECRET_KEY is not set (FLOWDESK_DEMO=1 allows a demo key)")


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
