"""The audit trail: who did what, from where; rows the database refuses to change; a chain
`flowdesk audit verify` checks, finding an altered and a deleted event."""

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from engine.audit import reads as audit_reads
from engine.audit.models import AuditEvent
from engine.db import db
from engine.identity import service as identity
from tests.api.support import open_task, start_store_opening

POLICY = identity.SignInPolicy()
STRONG = "cobalt-Harbour-71-lantern"


def events(app) -> list[tuple[str, str | None, str | None, dict]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        found = [(e.kind, e.actor, e.source, json.loads(e.detail)) for e in rows]
        db.session.rollback()
        return found


def cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["flowdesk", *args], input=input)


def test_sign_in_failed_sign_in_and_sign_out_are_recorded_with_the_address(app):
    with app.app_context():
        assert identity.sign_in("hr", "wrong", source="10.0.0.7", policy=POLICY) is None
        assert identity.sign_in("nobody", "demo", source="10.0.0.8", policy=POLICY) is None
        _user, token = identity.sign_in("hr", "demo", source="10.0.0.9", policy=POLICY)
        identity.sign_out(token, source="10.0.0.9")
        identity.sign_out(token, source="10.0.0.9")  # already ended: nothing more to record
    assert [(kind, actor, source) for kind, actor, source, _ in events(app)] == [
        ("sign_in_failed", None, "10.0.0.7"),
        ("sign_in_failed", None, "10.0.0.8"),
        ("sign_in", "hr", "10.0.0.9"),
        ("sign_out", "hr", "10.0.0.9"),
    ]
    details = [detail for *_, detail in events(app)]
    assert details[0] == {"username": "hr", "reason": "wrong_password"}
    assert details[1] == {"username": "nobody", "reason": "unknown"}


def test_cli_admin_changes_are_recorded_as_done_from_the_cli(app):
    assert (
        cli(app, "create-group", "finance", "--name", "Finance", "--name-zh", "财务").exit_code == 0
    )
    result = cli(app, "create-admin", "root", "--name", "Root", input=f"{STRONG}\n{STRONG}\n")
    assert result.exit_code == 0, result.output
    assert (
        cli(app, "set-memberships", "hr", "--roles", "agent", "--groups", "finance").exit_code == 0
    )
    assert cli(app, "deactivate", "hr").exit_code == 0
    kinds = [
        (kind, source, detail.get("key") or detail.get("username"))
        for kind, _, source, detail in events(app)
    ]
    assert kinds == [
        ("group_created", "cli", "finance"),
        ("user_created", "cli", "root"),
        ("user_changed", "cli", "hr"),
        ("user_deactivated", "cli", "hr"),
    ]


def test_the_database_refuses_to_change_or_delete_an_event(app):
    with app.app_context():
        identity.sign_in("hr", "wrong", source="10.0.0.7", policy=POLICY)
        for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(select(AuditEvent.actor)) is None


def _drop_triggers() -> None:
    """What someone with the database's owner password could do: remove the protection."""
    if db.engine.dialect.name == "sqlite":
        for name in ("audit_event_no_update", "audit_event_no_delete"):
            db.session.execute(text(f"DROP TRIGGER {name}"))
    else:
        db.session.execute(text("DROP TRIGGER audit_event_no_change ON audit_event"))
    db.session.commit()


def _five_events(app) -> None:
    with app.app_context():
        for n in range(5):
            identity.sign_in("hr", f"wrong{n}", source=f"10.0.0.{n}", policy=POLICY)


def test_verify_passes_an_intact_log(app):
    _five_events(app)
    result = cli(app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intact: 5 event(s)" in result.output


def test_verify_finds_an_altered_event(app):
    _five_events(app)
    with app.app_context():
        _drop_triggers()
        db.session.execute(text("UPDATE audit_event SET source = '192.0.2.1' WHERE id = 2"))
        db.session.commit()
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1
    assert "event 2 altered" in result.output
    with app.app_context():
        assert audit_reads.verify().problems == ["event 2 altered (its hash does not match)"]


def test_verify_finds_a_deleted_event_and_a_deleted_tail(app):
    _five_events(app)
    with app.app_context():
        _drop_triggers()
        db.session.execute(text("DELETE FROM audit_event WHERE id = 3"))
        db.session.commit()
        assert audit_reads.verify().problems == ["event 3 deleted (the ids jump to 4)"]
        db.session.execute(text("DELETE FROM audit_event WHERE id = 5"))
        db.session.commit()
        assert audit_reads.verify().problems == [
            "event 3 deleted (the ids jump to 4)",
            "events 5-5 deleted from the end",
        ]
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1 and "event 3 deleted" in result.output


def test_seed_demo_refuses_outside_demo_mode(app):
    app.config["TESTING"] = False
    result = cli(app, "seed-demo", "--no-requests")
    assert result.exit_code == 1
    assert "only in demo mode" in result.output


def _request_changes(app) -> list[tuple[str | None, str | None, str | None, dict]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).filter_by(kind="request_changed").order_by(AuditEvent.id)
        )
        found = [(e.actor, e.source, e.subject, json.loads(e.detail)) for e in rows]
        db.session.rollback()
        return found


def test_every_change_of_a_request_by_a_person_is_chained_with_actor_and_address(app, as_user):
    address = {"REMOTE_ADDR": "198.51.100.4"}
    requester = as_user("requester")
    instance = start_store_opening(requester)  # the test client's default address
    task = open_task(instance, "plan_review")
    url = f"/api/v1/instances/{instance['id']}"
    commented = requester.post(f"{url}/comments", json={"body": "keys with the landlord"},
                               environ_base=address)  # fmt: skip
    assert commented.status_code == 201, commented.get_json()
    as_user("manager").post(f"/api/v1/tasks/{task['task_id']}/claim", environ_base=address)
    assert requester.post(f"{url}/cancel", json={"reason": "plans changed"},
                          environ_base=address).status_code == 200  # fmt: skip

    changes = _request_changes(app)
    subject = f"instance:{instance['id']}"
    assert [(actor, source, s, d["event"]) for actor, source, s, d in changes] == [
        ("requester", "127.0.0.1", subject, "started"),
        ("requester", "198.51.100.4", subject, "commented"),
        ("manager", "198.51.100.4", subject, "task_claimed"),
        ("requester", "198.51.100.4", subject, "cancelled"),
    ]
    assert changes[1][3]["bpmn_id"] is None and changes[2][3]["bpmn_id"] == "plan_review"
    assert changes[3][3]["reason"] == "plans changed"
    assert "intact" in cli(app, "audit", "verify").output


def test_a_refused_change_of_a_request_records_nothing(app, as_user):
    requester = as_user("requester")
    instance = start_store_opening(requester)
    url = f"/api/v1/instances/{instance['id']}"
    assert requester.post(f"{url}/cancel").status_code == 200
    before = _request_changes(app)

    assert requester.post(f"{url}/cancel").status_code == 409  # already cancelled
    assert as_user("hr").post(f"{url}/comments", json={"body": "x"}).status_code == 404

    assert _request_changes(app) == before
