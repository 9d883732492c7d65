"""The audit log's rows: events chained by SHA-256, and the head that holds the last link.

The database refuses UPDATE and DELETE on `audit_event` (triggers on SQLite and PostgreSQL). Someone
who drops the triggers can still change rows, but not without `flowdesk audit verify` noticing:
each row's hash covers its content and the previous row's hash, and `audit_head` holds the last
one, so an altered, removed or truncated row breaks the chain.
"""

from sqlalchemy import DDL, event

from engine.db import db

GENESIS = "0" * 64  # the "previous hash" of the first event


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    id = db.Column(db.Integer, primary_key=True, autoincrement=False)  # 1, 2, 3... no gaps
    created_at = db.Column(db.DateTime, nullable=False, index=True)  # naive UTC
    kind = db.Column(db.String(40), nullable=False, index=True)  # AuditKind
    actor_id = db.Column(db.Integer, nullable=True, index=True)  # no FK: the log outlives users
    actor = db.Column(db.String(64), nullable=True)  # the username at the time
    source = db.Column(db.String(64), nullable=True)  # the client address, or "cli"
    subject = db.Column(db.String(120), nullable=True, index=True)  # "instance:42", "user:7"
    detail = db.Column(db.Text, nullable=False, default="{}")  # canonical JSON
    prev_hash = db.Column(db.String(64), nullable=False)
    hash = db.Column(db.String(64), nullable=False)


class AuditHead(db.Model):
    """One row (id 1): the last event's id and hash, so a removed tail is noticed too."""

    __tablename__ = "audit_head"
    id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    last_id = db.Column(db.Integer, nullable=False)
    last_hash = db.Column(db.String(64), nullable=False)


SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
)
POSTGRESQL_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_event is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
)
HEAD_ROW = f"INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '{GENESIS}')"

# db.create_all() (tests, first start) builds what the migration builds.
for _statement in SQLITE_TRIGGERS:
    event.listen(AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRESQL_TRIGGERS:
    event.listen(
        AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
event.listen(AuditHead.__table__, "after_create", DDL(HEAD_ROW))
