"""API tier: create_app(test config), a temp SQLite file per test, jobs recorded then drained.

The schema, the bundled processes and the demo users are created once per session (seeding
hashes demo passwords, which is slow on purpose) and copied into each test's own database file.
With FLOWDESK_TEST_DB=postgresql the tier runs on a throwaway PostgreSQL instead: the seeded
database is a template, and each test gets its own database created from it.
"""

import functools
import os
import shutil
import uuid

import pytest

from api.app import create_app, sync_bundled
from engine.catalog.bundles import ProcessLibrary
from engine.db import db
from tests.api.support import Api
from tests.servers import session_postgres

DB_NAME = "test.db"
PG_TEMPLATE = "flowdesk_api_template"
ON_POSTGRESQL = os.environ.get("FLOWDESK_TEST_DB") == "postgresql"


_MADE = []  # every app make_app() built during the current test


def make_app(database, **config):
    """The app on a SQLite file (a path) or on a database URL; its pool is closed after the test."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    app = create_app(
        {
            "TESTING": True,
            "DISPATCHER": "record",
            "DATABASE_URL": url,
            "TIMER_POLL_SECONDS": 3600,
            **config,
        }
    )
    _MADE.append(app)
    return app


def _close_made_apps():
    """A pool left open leaks its connections; psycopg warns about that when they are collected,
    which fails whichever later test happens to be running (filterwarnings = error)."""
    while _MADE:
        app = _MADE.pop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def parse_bundled_files_once():
    """create_app() parses processes/ on every call; the files do not change here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            ProcessLibrary, "load", classmethod(functools.cache(ProcessLibrary.load.__func__))
        )
        yield


@pytest.fixture(scope="session")
def seeded_database(request, tmp_path_factory):
    """A database with tables, the bundled processes synced and the demo users seeded.

    A file, or with PostgreSQL the URL of a template database.
    """
    if ON_POSTGRESQL:
        path = session_postgres(request).create_database(PG_TEMPLATE)
    else:
        path = tmp_path_factory.mktemp("seeded") / DB_NAME
    app = make_app(path)
    with app.app_context():
        db.create_all()
        sync_bundled(app)
        # api/cli.py's group is a plain click.Group: its commands bring no app context
        result = app.test_cli_runner().invoke(args=["flowdesk", "seed-demo", "--no-requests"])
        assert result.exit_code == 0, result.output
        db.session.remove()
        db.engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture
def database(request, tmp_path, seeded_database):
    """This test's own database: a copy of the seeded file, or a database from the template."""
    if ON_POSTGRESQL:
        server, name = session_postgres(request), f"api_{uuid.uuid4().hex[:16]}"
        yield server.create_database(name, template=PG_TEMPLATE)
        _close_made_apps()
        server.drop_database(name)
        return
    for suffix in ("", "-wal", "-shm"):
        source = seeded_database.with_name(DB_NAME + suffix)
        if source.exists():
            shutil.copyfile(source, tmp_path / (DB_NAME + suffix))
    yield tmp_path / DB_NAME
    _close_made_apps()


@pytest.fixture
def app(database):
    return make_app(database)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def as_user(client):
    """as_user("manager") speaks with the demo token `demo-manager`; pass token= for others."""

    def make(username: str, token: str | None = None) -> Api:
        return Api(client, token or f"demo-{username}")

    return make
