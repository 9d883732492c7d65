"""Append to the audit log: inside the caller's unit of work, or as a unit of its own.

Request changes are appended when their transaction commits (`append_at_commit`): the head row
that chains every writer one after another is then locked for the commit alone, not for the
whole unit of work.
"""

import hashlib
import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from engine.audit.kinds import AuditKind
from engine.audit.models import GENESIS, AuditEvent, AuditHead
from engine.db import db, utcnow, write_unit

PENDING = "audit_pending"  # session.info key: events to append when the transaction commits
MAX_DETAIL_CHARS = 2000  # a longer detail is kept as its SHA-256
_source: ContextVar[str | None] = ContextVar("audit_source", default=None)


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


def set_source(source: str | None) -> None:
    """Say where this thread's units of work come from (the client address, "cli")."""
    _source.set(source)


def current_source() -> str | None:
    return _source.get()


def append(kind: AuditKind, actor: Actor, *, subject: str | None = None,
           detail: dict | None = None, session: Session | None = None) -> AuditEvent:  # fmt: skip
    """Add an event to the caller's transaction (committed, or rolled back, with its change).

    The head row is locked (FOR UPDATE on PostgreSQL; SQLite's write lock is already held), so
    concurrent writers chain one after another.
    """
    session = session or db.session()
    head = session.get(AuditHead, 1, with_for_update=True)
    if head is None:  # a database made before the head row existed
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
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
    session.add(event)
    head.last_id, head.last_hash = event.id, event.hash
    return event


def append_at_commit(kind: AuditKind, actor: Actor, *, subject: Callable[[], str],
                     detail: dict) -> None:  # fmt: skip
    """Append an event when the caller's transaction commits; nothing if it rolls back.

    `subject` is called at commit, after the flush, so it may name a row made in this unit.
    """
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > MAX_DETAIL_CHARS:
        detail = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "chars": len(text)}
    db.session().info.setdefault(PENDING, []).append((kind, actor, subject, detail))


@orm_event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    session.flush()
    for kind, actor, subject, detail in pending:
        append(kind, actor, subject=subject(), detail=detail, session=session)


@orm_event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction) -> None:
    if transaction.parent is None:  # rolled back (a commit has taken them already)
        session.info.pop(PENDING, None)


@write_unit
def record(kind: AuditKind, actor: Actor, *, subject: str | None = None,
           detail: dict | None = None) -> None:  # fmt: skip
    """Record an event that changes nothing else (a download, a token used), in its own unit."""
    append(kind, actor, subject=subject, detail=detail)
    db.session.commit()
