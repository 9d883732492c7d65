"""Web tier: create_app(test config), a SQLite file per test copied from one seeded database."""

import shutil

import pytest

from api.app import create_app, sync_bundled
from engine.db import db
from tests.web.support import Web


def _config(path, tmp_path) -> dict:
    return {
        "TESTING": True,
        "DISPATCHER": "record",
        "DATABASE_URL": f"sqlite:///{path}",
        "ATTACHMENTS_DIR": str(tmp_path / "files"),
        "TIMER_POLL_SECONDS": 3600,
    }


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory):
    """Tables, bundled processes and demo users, made once (password hashing is slow on purpose)."""
    folder = tmp_path_factory.mktemp("seed")
    app = create_app(_config(folder / "seed.db", folder))
    with app.app_context():
        db.create_all()
        sync_bundled(app)
        result = app.test_cli_runner().invoke(args=["flowdesk", "seed-demo", "--no-requests"])
        assert result.exit_code == 0, result.output
        db.session.remove()
        db.engine.dispose()
    return folder / "seed.db"


@pytest.fixture
def app(tmp_path, seeded_db):
    shutil.copyfile(seeded_db, tmp_path / "test.db")
    app = create_app(_config(tmp_path / "test.db", tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_app(tmp_path, seeded_db):
    """make_app(**settings): another app on its own copy of the seeded database."""
    apps = []

    def make(**settings):
        path = tmp_path / f"app{len(apps)}.db"
        shutil.copyfile(seeded_db, path)
        app = create_app({**_config(path, tmp_path), **settings})
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def web(app):
    """web("hr") is a browser-like client signed in as a demo user, in English unless asked."""

    def make(username: str | None = None, lang: str | None = "en") -> Web:
        client = Web(app)
        if username:
            client.login(username)
        if lang:
            client.post("/language", data={"lang": lang})
        return client

    return make


@pytest.fixture
def client_of(app):
    return app.test_client()
