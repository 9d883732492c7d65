"""Upgrading a database that already holds data: the oldest revision, rows in it, then head."""

import sqlite3

from flask_migrate import downgrade, upgrade

from api.app import create_app
from engine.models import Job, ProcessInstance, db

FIRST_REVISION = "fdcab89afd61"


def test_upgrade_from_first_revision_keeps_rows_and_adds_columns(tmp_path):
    path = tmp_path / "old.db"
    app = create_app({"TESTING": True, "DISPATCHER": "record", "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(revision=FIRST_REVISION)
        db.session.remove()
        db.engine.dispose()
    with sqlite3.connect(path) as conn:  # rows as the first schema knew them
        conn.execute(
            "INSERT INTO user_account (id, username, display_name, email, roles, locale, "
            "is_active, created_at) VALUES (1, 'old', 'Old', '', 'requester', 'en', 1, "
            "'2026-01-01 00:00:00')"
        )
        conn.execute(
            "INSERT INTO process_version (id, process_key, version, content_hash, files, "
            "spec_json, meta, is_bundled, created_at) VALUES (1, 'p', 1, 'h', '{}', '{}', "
            "'{}', 0, '2026-01-01 00:00:00')"
        )
        conn.execute(
            "INSERT INTO process_instance (id, process_version_id, offering_key, status, title, "
            "workflow_json, serializer_version, requested_by_id, created_at, updated_at, "
            "version) VALUES (1, 1, 'p', 'running', 'Old request', '{}', 'flowdesk-1', 1, "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"
        )
        conn.execute(
            "INSERT INTO job (id, instance_id, task_id, bpmn_id, operation, params, status, "
            "attempts, created_at, updated_at) VALUES (1, 1, 't', 'b', 'mail.send', '{}', "
            "'queued', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )

    with app.app_context():
        upgrade()
        job = db.session.get(Job, 1)
        assert (job.status, job.max_attempts, job.run_at, job.lease_until) == (
            "queued",
            None,
            None,
            None,
        )
        assert db.session.get(ProcessInstance, 1).title == "Old request"
        db.session.remove()
        downgrade(revision=FIRST_REVISION)  # and back down, keeping the rows
        db.session.remove()
        db.engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT status FROM job WHERE id = 1").fetchone() == ("queued",)
