"""The poller's lease: one process at a time fires timers and retries, however many run."""

from engine.db import db


class SchedulerLease(db.Model):
    """Who runs the timer/retry poller now: one active poller however many workers run."""

    __tablename__ = "scheduler_lease"
    name = db.Column(db.String(40), primary_key=True)
    holder = db.Column(db.String(120), nullable=False)
    expires_at = db.Column(db.DateTime, nullable=False)
