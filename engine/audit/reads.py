"""Reading the audit log: filtered pages, and checking that the chain is whole."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from engine.audit.models import GENESIS, AuditEvent, AuditHead
from engine.audit.service import digest
from engine.db import db


def events_query(*, kind=None, actor=None, subject=None, since: datetime | None = None,
                 until: datetime | None = None):  # fmt: skip
    """The newest events first, filtered by kind, actor's username, subject and time (UTC)."""
    query = select(AuditEvent)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if subject:
        query = query.where(AuditEvent.subject == subject)
    if since:
        query = query.where(AuditEvent.created_at >= since)
    if until:
        query = query.where(AuditEvent.created_at < until)
    return query.order_by(AuditEvent.id.desc())


@dataclass
class Verdict:
    """What `verify` found: the events checked and each break in the chain."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        return not self.problems


def verify(batch: int = 1000) -> Verdict:
    """Walk the whole chain: every hash, every link, no gap in the ids, the head at the end."""
    verdict = Verdict()
    expected_id, previous = 1, GENESIS
    after = 0
    while True:
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id).limit(batch)
            )
        )
        if not rows:
            break
        for event in rows:
            if event.id != expected_id:
                missing = (
                    f"{expected_id}"
                    if event.id == expected_id + 1
                    else (f"{expected_id}-{event.id - 1}")
                )
                verdict.problems.append(f"event {missing} deleted (the ids jump to {event.id})")
            elif event.prev_hash != previous:
                verdict.problems.append(f"event {event.id} does not link to the event before it")
            if digest(event) != event.hash:
                verdict.problems.append(f"event {event.id} altered (its hash does not match)")
            verdict.checked += 1
            expected_id, previous = event.id + 1, event.hash
        after = rows[-1].id
    head = db.session.get(AuditHead, 1)
    last_id = expected_id - 1
    if head is not None and (head.last_id, head.last_hash) != (last_id, previous):
        if head.last_id > last_id:
            verdict.problems.append(f"events {last_id + 1}-{head.last_id} deleted from the end")
        else:
            verdict.problems.append("the head does not match the last event")
    db.session.rollback()
    return verdict
