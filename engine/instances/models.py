"""A request's rows: the instance (its workflow as one JSON document), the human-task projection,
the jobs of its automated steps, its history, comments and attachments; and their states.

The database is the source of truth. An instance row holds the serialized workflow (without its
spec, stored once per version); `human_task` projects open user steps so inboxes are indexed
queries; `job` rows are written in the same transaction as the state that needs them.
"""

import enum

from sqlalchemy import JSON, Index
from sqlalchemy.orm import deferred

from engine.bpmn.runtime import InstanceStatus
from engine.catalog.models import ProcessVersion
from engine.db import db, utcnow
from engine.identity.models import User

__all__ = ["InstanceStatus"]


class TaskState(enum.StrEnum):
    """A human task's row: open in an inbox, then completed or cancelled."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class JobStatus(enum.StrEnum):
    """queued -> running -> done | retry (-> queued at run_at) | failed (a failed step)
    | skipped (an operator supplied the result) | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRY = "retry"
    FAILED = "failed"
    DONE = "done"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


OPEN_JOBS = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRY)


class Outcome(enum.StrEnum):
    """How a request ended, as its process says (an end event's `outcome` property)."""

    DONE = "done"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"  # stopped by an error and not finished (yet)


class Decision(enum.StrEnum):
    """What an approver decided on a step with a decision field."""

    APPROVED = "approved"
    REJECTED = "rejected"


class EventKind(enum.StrEnum):
    """The kinds of history entries of a request."""

    STARTED = "started"
    TASK_COMPLETED = "task_completed"
    TASK_CLAIMED = "task_claimed"
    TASK_UNCLAIMED = "task_unclaimed"
    TASK_REASSIGNED = "task_reassigned"
    JOB_DONE = "job_done"
    JOB_RETRY = "job_retry"
    JOB_ERROR_CAUGHT = "job_error_caught"  # a business error taken by a BPMN error boundary
    STEP_FAILED = "step_failed"  # an automated step ran out of attempts and waits for people
    STEP_RETRIED = "step_retried"
    STEP_CORRECTED = "step_corrected"  # its input data corrected by an operator, then retried
    STEP_SKIPPED = "step_skipped"  # an operator supplied its result
    TIMER_FIRED = "timer_fired"
    FAILED = "failed"  # a script, condition or expression failed: the request stopped
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    COMMENTED = "commented"


FAILURE_EVENTS = (EventKind.FAILED, EventKind.STEP_FAILED)
RESOLUTION_EVENTS = (EventKind.STEP_RETRIED, EventKind.STEP_CORRECTED, EventKind.STEP_SKIPPED)


class ProcessInstance(db.Model):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_requester_created", "requested_by_id", "created_at"),
        Index("ix_instance_status_created", "status", "created_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    process_version_id = db.Column(db.ForeignKey("process_version.id"), nullable=False)
    offering_key = db.Column(db.String(64), nullable=False, index=True)
    status = db.Column(db.String(32), nullable=False)  # InstanceStatus
    outcome = db.Column(db.String(120), nullable=True)  # Outcome, once finished
    outcome_reason = db.Column(db.Text, nullable=True)
    title = db.Column(db.String(200), nullable=False)  # English
    title_zh = db.Column(db.String(200), nullable=True)
    business_key = db.Column(db.String(120), nullable=True, index=True)
    workflow_json = deferred(db.Column(db.Text, nullable=False))  # loaded only to run the engine
    # the business data as of the last save (JSON-safe), so reads never deserialize the workflow;
    # NULL for rows saved before it existed
    data_json = deferred(db.Column(JSON, nullable=True))
    serializer_version = db.Column(db.String(20), nullable=False)
    requested_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=False)
    next_timer_at = db.Column(db.DateTime, nullable=True, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    completed_at = db.Column(db.DateTime, nullable=True)
    version = db.Column(db.Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}

    process_version = db.relationship(ProcessVersion)
    requested_by = db.relationship(User)

    @property
    def is_finished(self) -> bool:
        return self.status in (InstanceStatus.COMPLETE, InstanceStatus.CANCELLED)

    def title_in(self, lang: str) -> str:
        return (self.title_zh or self.title) if lang == "zh" else self.title


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
    state = db.Column(db.String(16), nullable=False, default=TaskState.OPEN)  # TaskState
    decision = db.Column(db.String(16), nullable=True)  # Decision, on steps that decide
    offering_key = db.Column(db.String(64), nullable=False)
    priority = db.Column(db.Integer, nullable=True)  # Camunda's priority: higher comes first
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    due_at = db.Column(db.DateTime, nullable=True)
    completed_at = db.Column(db.DateTime, nullable=True)
    completed_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)

    instance = db.relationship("ProcessInstance")
    assignee = db.relationship(User, foreign_keys=[assignee_id])
    completed_by = db.relationship(User, foreign_keys=[completed_by_id])
    candidates = db.relationship("TaskCandidate", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.state == TaskState.OPEN


class TaskCandidate(db.Model):
    """A further group or a user who may work a task (Camunda's candidateGroups/-Users).

    `human_task.candidate_group` keeps the first group; this table holds the rest, so inbox
    queries stay indexed lookups.
    """

    __tablename__ = "task_candidate"
    id = db.Column(db.Integer, primary_key=True)
    human_task_id = db.Column(
        db.ForeignKey("human_task.id", ondelete="CASCADE"), nullable=False, index=True
    )
    group_key = db.Column(db.String(64), nullable=True, index=True)
    user_id = db.Column(
        db.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True, index=True
    )


class JobKind(enum.StrEnum):
    """What a job row runs: an operation (a service task), or an engine step that failed."""

    OPERATION = "operation"
    STEP = "step"  # a script, condition or library error: retried by running the step again


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
    kind = db.Column(
        db.String(16), nullable=False, default=JobKind.OPERATION, server_default="operation"
    )
    params = db.Column(JSON, nullable=False)
    status = db.Column(db.String(16), nullable=False, default=JobStatus.QUEUED)  # JobStatus
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
    kind = db.Column(db.String(32), nullable=False)  # EventKind
    actor_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)
    bpmn_id = db.Column(db.String(120), nullable=True)
    payload = db.Column(JSON, nullable=False, default=dict)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    actor = db.relationship(User)


class InstanceComment(db.Model):
    """A comment on a request by its requester or a handler."""

    __tablename__ = "instance_comment"
    id = db.Column(db.Integer, primary_key=True)
    instance_id = db.Column(db.ForeignKey("process_instance.id"), nullable=False, index=True)
    author_id = db.Column(db.ForeignKey("user_account.id"), nullable=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    author = db.relationship(User)


class Attachment(db.Model):
    """An uploaded file, stored by content hash; its uploader's until a request links it."""

    __tablename__ = "attachment"
    id = db.Column(db.Integer, primary_key=True)
    instance_id = db.Column(db.ForeignKey("process_instance.id"), nullable=True, index=True)
    uploaded_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=False)
    filename = db.Column(db.String(255), nullable=False)
    content_type = db.Column(db.String(120), nullable=False)
    size = db.Column(db.Integer, nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    uploaded_by = db.relationship(User)
