"""Process versions: deploy parsed BPMN as immutable versions, and load their specs once."""

from collections import OrderedDict
from threading import Lock

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import serializer
from engine.errors import NotFound
from engine.models import ProcessVersion, begin_write, db, write_unit
from engine.specs import ParsedProcess, ProcessLibrary

_SPEC_CACHE: OrderedDict[str, tuple] = OrderedDict()  # content hash -> specs
_SPEC_CACHE_SIZE = 256
_SPEC_LOCK = Lock()


def deploy(parsed: ParsedProcess, *, user_id: int | None, bundled: bool = False):
    """Store `parsed` as the next version of its offering, unless identical content exists.

    Returns (version, created). Does not commit: the caller's unit of work does.
    """
    existing = db.session.scalar(
        select(ProcessVersion).filter_by(process_key=parsed.key, content_hash=parsed.content_hash)
    )
    if existing is not None:
        return existing, False
    latest = db.session.scalar(
        select(func.max(ProcessVersion.version)).filter_by(process_key=parsed.key)
    )
    version = ProcessVersion(
        process_key=parsed.key,
        version=(latest or 0) + 1,
        content_hash=parsed.content_hash,
        files={name: content.decode("utf-8") for name, content in parsed.files.items()},
        spec_json=serializer.dump_specs(parsed.spec, parsed.subprocess_specs),
        meta=parsed.meta,
        is_bundled=bundled,
        created_by_id=user_id,
    )
    db.session.add(version)
    db.session.flush()
    with _SPEC_LOCK:
        _SPEC_CACHE[version.content_hash] = (parsed.spec, parsed.subprocess_specs)
    return version, True


@write_unit
def publish(parsed: ParsedProcess, *, user_id: int | None):
    """Deploy one process as its own unit of work; returns (version, created)."""
    version, created = deploy(parsed, user_id=user_id)
    db.session.commit()
    return version, created


@write_unit
def sync_library(library: ProcessLibrary) -> list[ProcessVersion]:
    """Deploy every bundled process whose content is new; return the versions created."""
    for attempt in range(2):  # two processes starting at once: the loser re-reads
        created = []
        try:
            for key in library.keys():
                version, is_new = deploy(library.get(key), user_id=None, bundled=True)
                if is_new:
                    created.append(version)
            db.session.commit()
            return created
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise
            begin_write()
    return []


def latest(key: str) -> ProcessVersion:
    """Return the newest version of an offering.

    Raises:
        NotFound: no such offering.
    """
    version = db.session.scalar(
        select(ProcessVersion)
        .filter_by(process_key=key)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound(f"offering '{key}'")
    return version


def latest_all() -> list[ProcessVersion]:
    """Return the newest version of every offering."""
    newest = (
        select(ProcessVersion.process_key, func.max(ProcessVersion.version).label("v"))
        .group_by(ProcessVersion.process_key)
        .subquery()
    )
    query = (
        select(ProcessVersion)
        .join(
            newest,
            (ProcessVersion.process_key == newest.c.process_key)
            & (ProcessVersion.version == newest.c.v),
        )
        .order_by(ProcessVersion.process_key)
    )
    return list(db.session.scalars(query))


def specs_for(version: ProcessVersion) -> tuple:
    """Return (spec, subprocess_specs) of a version, parsed from the database once per process."""
    with _SPEC_LOCK:
        cached = _SPEC_CACHE.get(version.content_hash)
        if cached is not None:
            _SPEC_CACHE.move_to_end(version.content_hash)
            return cached
    specs = serializer.load_specs(version.spec_json)
    with _SPEC_LOCK:
        _SPEC_CACHE[version.content_hash] = specs
        while len(_SPEC_CACHE) > _SPEC_CACHE_SIZE:
            _SPEC_CACHE.popitem(last=False)
    return specs
