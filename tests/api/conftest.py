"""API tier: create_app(test config), a temp SQLite file per test, jobs recorded then drained.

The schema, the bundled processes and the demo users are created once per session (seeding
hashes demo passwords, which is slow on purpose) and copied into each test's own database file.
"""

import functools
import shutil

import pytest

from api.app import create_app
from engine import versions
from engine.models import db
from engine.specs import ProcessLibrary
from forms.registry import FormRegistry
from tests.api.support import Api

DB_NAME = "test.db"


def make_app(db_path):
    return create_app(
        {
            "TESTING": True,
            "DISPATCHER": "record",
            "DATABASE_URL": f"sqlite:///{db_path}",
            "TIMER_POLL_SECONDS": 3600,
        }
    )


@pytest.fixture(scope="session", autouse=True)
def parse_bundled_files_once():
    """create_app() parses processes/ and forms/ on every call; the files do not change here."""
    with pytest.MonkeyPatch.context() as patch:
        for cls in (ProcessLibrary, FormRegistry):
            patch.setattr(cls, "load", classmethod(functools.cache(cls.load.__func__)))
        yield


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory):
    """A database file with tables, the bundled processes synced and the demo users seeded."""
    path = tmp_path_factory.mktemp("seeded") / DB_NAME
    app = make_app(path)
    with app.app_context():
        db.create_all()
        versions.sync_library(app.extensions["flowdesk"].library)
        # api/cli.py's group is a plain click.Group: its commands bring no app context
        result = app.test_cli_runner().invoke(args=["flowdesk", "seed-demo"])
        assert result.exit_code == 0, result.output
        db.session.remove()
        db.engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture
def app(tmp_path, seeded_database):
    for suffix in ("", "-wal", "-shm"):
        source = seeded_database.with_name(DB_NAME + suffix)
        if source.exists():
            shutil.copyfile(source, tmp_path / (DB_NAME + suffix))
    app = make_app(tmp_path / DB_NAME)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def as_user(client):
    """as_user("manager") speaks with the demo token `demo-manager`; pass token= for others."""

    def make(username: str, token: str | None = None) -> Api:
        return Api(client, token or f"demo-{username}")

    return make
