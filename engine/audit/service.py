"""Append to the audit log: inside the caller's unit of work, or as a unit of its own."""

import hashlib
import json
from dataclasses import dataclass

from engine.audit.kinds import AuditKind
from engine.audit.models import GENESIS, AuditEvent, AuditHead
from engine.db import db, utcnow, write_unit


@dataclass(frozen=True)
class Actor:
    """Who did it and from where; `source` is the client address, or "cli"."""

    user_id: int | None = None
    username: str | None = None
    source: str | None = None


CLI = Actor(source="cli")


def digest(event: AuditEvent) -> str:
    """The SHA-256 over an event's content and the previous event's hash."""
    content = [
        event.id,
        event.created_at.isoformat(timespec="microseconds"),
        event.kind,
        event.actor_id,
        event.actor,
        event.source,
        event.subject,
        event.detail,
        event.prev_hash,
    ]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def append(kind: AuditKind, actor: Actor, *, subject: str | None = None,
           detail: dict | None = None) -> AuditEvent:  # fmt: skip
    """Add an event to the caller's transaction (committed, or rolled back, with its change).

    The head row is locked (FOR UPDATE on PostgreSQL; SQLite's write lock is already held), so
    concurrent writers chain one after another.
    """
    head = db.session.get(AuditHead, 1, with_for_update=True)
    if head is None:  # a database made before the head row existed
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        db.session.add(head)
    event = AuditEvent(
        id=head.last_id + 1,
        created_at=utcnow(),
        kind=str(kind),
        actor_id=actor.user_id,
        actor=(actor.username or "")[:64] or None,
        source=(actor.source or "")[:64] or None,
        subject=(subject or "")[:120] or None,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
        prev_hash=head.last_hash,
    )
    event.hash = digest(event)
    db.session.add(event)
    head.last_id, head.last_hash = event.id, event.hash
    return event


@write_unit
def record(kind: AuditKind, actor: Actor, *, subject: str | None = None,
           detail: dict | None = None) -> None:  # fmt: skip
    """Record an event that changes nothing else (a download, a token used), in its own unit."""
    append(kind, actor, subject=subject, detail=detail)
    db.session.commit()
