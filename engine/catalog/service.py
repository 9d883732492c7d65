"""Units of work on the catalog: publish a bundle as a new version, sync the bundled library.

`publish` is the one publish function with every deploy check; the API, the CLI and the designer
call it, so they accept and refuse the same bundles with the same problems.
"""

import json

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.bpmn import serializer
from engine.bpmn.specs import KEY_PATTERN, invalid
from engine.catalog import checks, reads
from engine.catalog.bundles import (
    BPMN_SUFFIX,
    Bundle,
    ProcessLibrary,
    form_file_name,
    parse_bundle,
)
from engine.catalog.models import Category, ProcessVersion
from engine.db import begin_write, db
from engine.errors import InvalidInput

KEY_RULE = "lowercase letters, digits and underscores, starting with a letter, 2 to 63 characters"


def check(key: str, files: dict[str, bytes], *, operations) -> Bundle:
    """Parse `files` as a bundle of `key` and run every publish check, writing nothing.

    What is not sent comes from the offering's latest version: all its BPMN files when none is
    sent, and each of its forms not sent again. A designer may send only the file they changed.

    Raises:
        InvalidInput: the key breaks the rule for offering keys.
        InvalidProcess: with extra["problems"] = [{file, line, id, message}].
    """
    if not KEY_PATTERN.match(key or ""):
        raise InvalidInput(
            f"{key!r} is not a valid offering key: {KEY_RULE}.", errors={"key": [KEY_RULE]}
        )
    bundle = parse_bundle(key, _completed(key, files))
    found = checks.problems(bundle, operations=operations)
    if found:
        raise invalid(key, found)
    return bundle


def publish(key: str, files: dict[str, bytes], *, user_id: int | None, operations):
    """Check a bundle and store it as the next version of `key`; returns (version, created).

    Identical content returns the existing version (created False).

    Raises:
        InvalidProcess: the bundle does not pass the checks (nothing is written).
    """
    bundle = check(key, files, operations=operations)
    begin_write()
    version, created = deploy(bundle, user_id=user_id)
    db.session.commit()
    return version, created


def _completed(key: str, files: dict[str, bytes]) -> dict[str, bytes]:
    """The files sent, completed from the latest version: its BPMN files when none are sent
    (BPMN files are a set: sending one sends them all), and its forms that are not sent again."""
    base = reads.latest_or_none(key)
    db.session.rollback()  # end the read: the write that may follow takes its own lock
    if base is None:
        return dict(files)
    completed = {}
    if not any(name.endswith(BPMN_SUFFIX) for name in files):
        completed.update({name: text.encode("utf-8") for name, text in base.files.items()})
    for form_key, definition in (base.forms or {}).items():
        text = json.dumps(definition, ensure_ascii=False, indent=2)
        completed[form_file_name(form_key)] = text.encode("utf-8")
    completed.update(files)
    return completed


def deploy(bundle: Bundle, *, user_id: int | None, bundled: bool = False):
    """Store `bundle` as the next version of its offering, unless identical content exists.

    Returns (version, created). Does not commit: the caller's unit of work does.
    """
    content_hash = bundle.content_hash
    existing = db.session.scalar(
        select(ProcessVersion).filter_by(process_key=bundle.key, content_hash=content_hash)
    )
    if existing is not None:
        return existing, False
    latest = db.session.scalar(
        select(func.max(ProcessVersion.version)).filter_by(process_key=bundle.key)
    )
    process = bundle.process
    version = ProcessVersion(
        process_key=bundle.key,
        version=(latest or 0) + 1,
        content_hash=content_hash,
        files={name: content.decode("utf-8") for name, content in bundle.bpmn.items()},
        forms=bundle.forms,
        spec_json=serializer.dump_specs(process.spec, process.subprocess_specs),
        meta=process.meta,
        is_bundled=bundled,
        created_by_id=user_id,
    )
    db.session.add(version)
    db.session.flush()
    reads.remember_specs(version, process.spec, process.subprocess_specs)
    return version, True


def sync_library(library: ProcessLibrary, *, operations) -> list[ProcessVersion]:
    """Deploy every bundled offering whose content is new, and the catalog's categories.

    Raises:
        InvalidProcess: a bundled offering does not pass the publish checks.
    """
    for key in library.keys():
        found = checks.problems(library.get(key), operations=operations)
        if found:
            raise invalid(key, found)
    for attempt in range(2):  # two processes starting at once: the loser re-reads
        begin_write()
        created = []
        try:
            _sync_categories(library.categories)
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
    return []


def _sync_categories(categories: list[dict]) -> None:
    for position, item in enumerate(categories):
        row = db.session.get(Category, item["key"]) or Category(key=item["key"])
        row.name_en, row.name_zh = item["name"]["en"], item["name"]["zh"]
        row.icon, row.position = item.get("icon", "grid"), position
        db.session.add(row)
