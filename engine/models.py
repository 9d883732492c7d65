"""Database models: process versions, instances, the human-task projection, jobs, events, users.

The database is the source of truth. An instance row holds the serialized workflow (without its
spec, stored once per version); `human_task` projects open user steps so inboxes are indexed
queries; `job` rows are written in the same transaction as the state that needs them.
"""

import functools
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Index, UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, deferred

# Objects stay readable after commit (views serialize what a unit of work just wrote); every
# unit of work starts by expiring them (begin_write), so state changes always read fresh rows.
db = SQLAlchemy(session_options={"expire_on_commit": False})


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored naive, always UTC


def configure_sqlite(engine: Engine, busy_timeout_ms: int = 30000) -> None:
    """WAL, a busy timeout, and write locks taken up front (BEGIN IMMEDIATE).

    Without BEGIN IMMEDIATE two processes that read and then write deadlock with
    "database is locked" instead of waiting for each other.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("flowdesk_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")  # WAL readers take no lock at all


def begin_write() -> None:
    """Open the unit of work's transaction with the write lock taken up front (SQLite).

    A read-only transaction left open by earlier reads (authentication, loading the task) is
    ended first: upgrading it to a writer would fail once someone else has written meanwhile.
    """
    session = db.session()  # the scoped session's current Session
    if session.new or session.dirty or session.deleted or session.info.get("flushed"):
        return  # already writing in this transaction (pending or flushed rows)
    if session.get_bind().dialect.name != "sqlite":
        session.expire_all()  # PostgreSQL: row locks (FOR UPDATE) and the version column
        return
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={"flowdesk_write": True})


@event.listens_for(Session, "after_flush")
def _mark_flushed(session, _flush_context):
    session.info["flushed"] = True


@event.listens_for(Session, "after_transaction_end")
def _clear_flushed(session, transaction):
    if transaction.parent is None:
        session.info.pop("flushed", None)


def write_unit(func):
    """Decorate a unit of work: it runs in a transaction that holds the write lock."""

    @functools.wraps(func)
    def unit(*args, **kwargs):
        begin_write()
        return func(*args, **kwargs)

    return unit


group_member = db.Table(
    "group_member",
    db.Column("group_id", db.ForeignKey("user_group.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", db.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    __tablename__ = "user_account"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), unique=True, nullable=False)
    display_name = db.Column(db.String(120), nullable=False)
    email = db.Column(db.String(200), nullable=False, default="")
    roles = db.Column(db.String(200), nullable=False, default="requester")  # comma-separated
    locale = db.Column(db.String(10), nullable=False, default="en")
    department = db.Column(db.String(80), nullable=True)
    manager_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)
    password_hash = db.Column(db.String(255), nullable=True)
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    groups = db.relationship("Group", secondary=group_member, back_populates="members")

    @property
    def role_set(self) -> set[str]:
        return {r.strip() for r in self.roles.split(",") if r.strip()}

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set.intersection(roles))

    @property
    def group_keys(self) -> set[str]:
        return {g.key for g in self.groups}


class Group(db.Model):
    __tablename__ = "user_group"
    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(64), unique=True, nullable=False)
    name_en = db.Column(db.String(120), nullable=False)
    name_zh = db.Column(db.String(120), nullable=False)
    members = db.relationship("User", secondary=group_member, back_populates="groups")


class ApiToken(db.Model):
    __tablename__ = "api_token"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False)
    token_hash = db.Column(
        db.String(64), unique=True, nullable=False
    )  # sha256 hex; never the token
    name = db.Column(db.String(80), nullable=False, default="default")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    user = db.relationship("User")


class ProcessVersion(db.Model):
    """One immutable deployment of an offering's BPMN files; the spec is stored here once."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        UniqueConstraint("process_key", "content_hash"),
    )
    id = db.Column(db.Integer, primary_key=True)
    process_key = db.Column(db.String(64), nullable=False, index=True)
    version = db.Column(db.Integer, nullable=False)
    content_hash = db.Column(db.String(64), nullable=False)
    files = deferred(db.Column(JSON, nullable=False))  # {file name: BPMN text}; loaded on use
    spec_json = deferred(db.Column(db.Text, nullable=False))
    meta = db.Column(JSON, nullable=False)  # catalog metadata, start form, embedded forms
    is_bundled = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)


class ProcessInstance(db.Model):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_requester_created", "requested_by_id", "created_at"),
        Index("ix_instance_status_created", "status", "created_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    process_version_id = db.Column(db.ForeignKey("process_version.id"), nullable=False)
    offering_key = db.Column(db.String(64), nullable=False, index=True)
    status = db.Column(db.String(32), nullable=False)
    outcome = db.Column(db.String(120), nullable=True)
    title = db.Column(db.String(200), nullable=False)
    business_key = db.Column(db.String(120), nullable=True, index=True)
    workflow_json = deferred(db.Column(db.Text, nullable=False))  # loaded only to run the engine
    serializer_version = db.Column(db.String(20), nullable=False)
    requested_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=False)
    next_timer_at = db.Column(db.DateTime, nullable=True, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    completed_at = db.Column(db.DateTime, nullable=True)
    version = db.Column(db.Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}

    process_version = db.relationship("ProcessVersion")
    requested_by = db.relationship("User")


class HumanTask(db.Model):
    """Projection of a READY user/manual task, kept in step with the workflow on every save."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_task_state_group", "state", "candidate_group", "created_at"),
        Index("ix_task_state_assignee", "state", "assignee_id", "created_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    instance_id = db.Column(db.ForeignKey("process_instance.id"), nullable=False, index=True)
    task_id = db.Column(db.String(36), nullable=False, unique=True)
    bpmn_id = db.Column(db.String(120), nullable=False)
    name = db.Column(db.String(200), nullable=False)
    lane = db.Column(db.String(120), nullable=True)
    candidate_group = db.Column(db.String(64), nullable=True)
    assignee_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)
    form_key = db.Column(db.String(200), nullable=True)
    instructions = db.Column(db.Text, nullable=True)
    state = db.Column(db.String(16), nullable=False, default="open")  # open, completed, cancelled
    offering_key = db.Column(db.String(64), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    due_at = db.Column(db.DateTime, nullable=True)
    completed_at = db.Column(db.DateTime, nullable=True)
    completed_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)

    instance = db.relationship("ProcessInstance")
    assignee = db.relationship("User", foreign_keys=[assignee_id])
    completed_by = db.relationship("User", foreign_keys=[completed_by_id])


class Job(db.Model):
    """One operation call for one STARTED service task: the row is the truth, Redis a wake-up."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_status_created", "status", "created_at"),
        Index("ix_job_status_run_at", "status", "run_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    instance_id = db.Column(db.ForeignKey("process_instance.id"), nullable=False, index=True)
    task_id = db.Column(db.String(36), nullable=False, index=True)
    bpmn_id = db.Column(db.String(120), nullable=False)
    operation = db.Column(db.String(120), nullable=False)
    params = db.Column(JSON, nullable=False)
    # queued -> running -> done | retry (-> queued at run_at) | failed (an incident)
    # | skipped (an operator supplied the result) | cancelled
    status = db.Column(db.String(16), nullable=False, default="queued")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    max_attempts = db.Column(db.Integer, nullable=True)  # None: the configured default
    backoff_base = db.Column(db.Float, nullable=True)  # None: 2
    run_at = db.Column(db.DateTime, nullable=True)  # when a retry is due
    lease_until = db.Column(db.DateTime, nullable=True)  # a running job's worker holds it until
    result = db.Column(JSON, nullable=True)
    error = db.Column(db.Text, nullable=True)
    traceback = db.Column(db.Text, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    instance = db.relationship("ProcessInstance")


class InstanceEvent(db.Model):
    """Append-only history of an instance: the audit trail and the requester's timeline."""

    __tablename__ = "instance_event"
    id = db.Column(db.Integer, primary_key=True)
    instance_id = db.Column(db.ForeignKey("process_instance.id"), nullable=False, index=True)
    kind = db.Column(db.String(32), nullable=False)
    actor_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)
    bpmn_id = db.Column(db.String(120), nullable=True)
    payload = db.Column(JSON, nullable=False, default=dict)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    actor = db.relationship("User")


class DirectoryAccount(db.Model):
    """The demo company directory that `directory.*` operations write to."""

    __tablename__ = "directory_account"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), unique=True, nullable=False)
    full_name = db.Column(db.String(200), nullable=False)
    email = db.Column(db.String(200), nullable=False)
    department = db.Column(db.String(80), nullable=True)
    employment_type = db.Column(db.String(32), nullable=True)
    vpn_profile = db.Column(db.String(64), nullable=True)
    created_by_job_id = db.Column(db.Integer, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class InstanceComment(db.Model):
    """A comment on a request by its requester or a handler."""

    __tablename__ = "instance_comment"
    id = db.Column(db.Integer, primary_key=True)
    instance_id = db.Column(db.ForeignKey("process_instance.id"), nullable=False, index=True)
    author_id = db.Column(db.ForeignKey("user_account.id"), nullable=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    author = db.relationship("User")


class Attachment(db.Model):
    """An uploaded file, stored on disk by content hash; linked to a request once submitted."""

    __tablename__ = "attachment"
    id = db.Column(db.Integer, primary_key=True)
    instance_id = db.Column(db.ForeignKey("process_instance.id"), nullable=True, index=True)
    uploaded_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=False)
    filename = db.Column(db.String(255), nullable=False)
    content_type = db.Column(db.String(120), nullable=False)
    size = db.Column(db.Integer, nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    uploaded_by = db.relationship("User")


class SchedulerLease(db.Model):
    """Who runs the timer/retry poller now: one active poller however many workers run."""

    __tablename__ = "scheduler_lease"
    name = db.Column(db.String(40), primary_key=True)
    holder = db.Column(db.String(120), nullable=False)
    expires_at = db.Column(db.DateTime, nullable=False)
