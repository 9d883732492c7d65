"""The database handle shared by every domain: the session, the clock, and write locking.

Each domain package under engine/ declares its own models on `db`. A unit of work takes the write
lock up front (`begin_write`, or the `write_unit` decorator), does its reads and writes, and
commits once.
"""

import functools
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# Objects stay readable after commit (views serialize what a unit of work just wrote); every
# unit of work starts by expiring them (begin_write), so state changes always read fresh rows.
db = SQLAlchemy(session_options={"expire_on_commit": False})


MAX_ROW_ID = 2**31 - 1  # an Integer primary key on PostgreSQL; SQLite's are wider


def is_row_id(value) -> bool:
    """A value that can be a row's id: anything else (too long, negative) is simply not found."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID


def utcnow() -> datetime:
    """Now in UTC, naive: every timestamp column holds naive UTC."""
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
    What those reads loaded is expired, to be read again inside the write lock, except rows
    whose models say `keep_loaded` (see `expire_changing`).
    """
    session = db.session()  # the scoped session's current Session
    if session.new or session.dirty or session.deleted or session.info.get("flushed"):
        return  # already writing in this transaction (pending or flushed rows)
    if session.get_bind().dialect.name != "sqlite":
        expire_changing(session)  # PostgreSQL: row locks (FOR UPDATE) and the version column
        return
    if session.in_transaction():
        session.commit()  # it wrote nothing: ending it so keeps what it read loaded
        expire_changing(session)
    session.connection(execution_options={"flowdesk_write": True})


def expire_changing(session: Session) -> None:
    """Expire every loaded row except those of models with `keep_loaded = True`: rows that
    never change (process versions) or that a request reads once when it authenticates and
    may use as read (the caller, their groups). A unit of work that changes such a row reads
    it again with `populate_existing`."""
    for obj in list(session.identity_map.values()):
        if not getattr(obj, "keep_loaded", False):
            session.expire(obj)


@event.listens_for(Session, "loaded_as_persistent")
def _hold_immutable(session, instance):
    """Hold rows that never change (`is_immutable`) for the session's life: its identity map is
    weak, so each unit of work of a worker's pass would otherwise read its process version
    again."""
    if getattr(instance, "is_immutable", False):
        session.info.setdefault("held", {})[id(instance)] = instance


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


def ping() -> None:
    """Reach the database (health checks); raises the driver's error when it is down."""
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
