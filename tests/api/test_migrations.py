"""Upgrading a database that already holds data: the oldest revision, rows in it, then head."""

import json
import sqlite3

from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from api.app import create_app
from engine.catalog.bundles import bundle_hash
from engine.catalog.models import ProcessVersion
from engine.db import db
from engine.instances.models import InstanceEvent, Job, ProcessInstance

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


BEFORE_BUNDLES = "82932e679225"
OLD_BPMN = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
    '<spiffworkflow:property name="form" value="new_hire_onboarding.manager_approval" />'
    "</bpmn:definitions>"
)


def test_upgrade_attaches_todays_forms_and_turns_names_into_outcomes(tmp_path):
    path = tmp_path / "old.db"
    app = create_app({"TESTING": True, "DISPATCHER": "record", "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(revision=BEFORE_BUNDLES)
        db.session.remove()
        db.engine.dispose()
    workflow = json.dumps(
        {"tasks": {"a": {"data": {"manager_approved": False, "manager_comment": "No headcount"}}}}
    )
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO user_account (id, username, display_name, email, roles, locale, "
            "is_active, created_at) VALUES (1, 'old', 'Old', '', 'requester', 'en', 1, "
            "'2026-01-01 00:00:00')"
        )
        conn.execute(
            "INSERT INTO process_version (id, process_key, version, content_hash, files, "
            "spec_json, meta, is_bundled, created_at) VALUES (1, 'new_hire_onboarding', 1, 'h', "
            "?, '{}', ?, 1, '2026-01-01 00:00:00')",
            (
                json.dumps({"p.bpmn": OLD_BPMN}),
                json.dumps({"start_form": "new_hire_onboarding.request"}),
            ),
        )
        for number, (status, outcome) in enumerate(
            [("complete", "Rejected"), ("complete", "Ready"), ("cancelled", None)], 1
        ):
            conn.execute(
                "INSERT INTO process_instance (id, process_version_id, offering_key, status, "
                "outcome, title, workflow_json, serializer_version, requested_by_id, created_at, "
                "updated_at, version) VALUES (?, 1, 'new_hire_onboarding', ?, ?, 'Old', ?, "
                "'flowdesk-1', 1, '2026-01-01', '2026-01-01', 1)",
                (number, status, outcome, workflow),
            )
        conn.execute(
            "INSERT INTO instance_event (id, instance_id, kind, payload, created_at) "
            "VALUES (1, 1, 'incident', '{}', '2026-01-01 00:00:00')"
        )

    with app.app_context():
        upgrade()
        version = db.session.get(ProcessVersion, 1)
        assert sorted(version.forms) == [
            "new_hire_onboarding.manager_approval",
            "new_hire_onboarding.request",
        ]
        forms = version.forms
        bpmn = {"p.bpmn": OLD_BPMN.encode()}
        assert version.content_hash == bundle_hash(bpmn, forms)
        rows = {
            i.id: (i.outcome, i.outcome_reason) for i in db.session.scalars(select(ProcessInstance))
        }
        assert rows == {1: ("rejected", "No headcount"), 2: ("done", None), 3: ("cancelled", None)}
        assert db.session.get(InstanceEvent, 1).kind == "step_failed"
        db.session.remove()
        downgrade(revision=BEFORE_BUNDLES)
        db.session.remove()
        db.engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT kind FROM instance_event").fetchone() == ("incident",)
