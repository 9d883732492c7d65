"""Units of work on the catalog: publish a bundle as a new version, sync the bundled library.

`publish` is the one publish function with every deploy check; the API, the CLI and the designer
call it, so they accept and refuse the same bundles with the same problems.
"""

import json
import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.bpmn import serializer
from engine.bpmn.documents import is_bpmn, to_utf8
from engine.bpmn.specs import KEY_PATTERN, invalid, main_process_ids
from engine.catalog import checks, reads
from engine.catalog.bundles import (
    Bundle,
    ProcessLibrary,
    form_file_name,
    parse_bundle,
)
from engine.catalog.models import Category, ProcessVersion
from engine.db import begin_write, db
from engine.errors import InvalidInput

KEY_RULE = "lowercase letters, digits and underscores, starting with a letter, 2 to 63 characters"


def derive_key(process_id: str) -> str:
    """An offering key from any BPMN process id: `Process_1` -> `process_1`, `sid-A1` -> `sid_a1`.

    Lowercase, every run of other characters one `_`, a letter first, at most 63 characters.
    """
    key = re.sub(r"[^a-z0-9]+", "_", process_id.lower()).strip("_")
    if not key[:1].isalpha():
        key = f"p_{key}".rstrip("_")
    return (key if len(key) >= 2 else f"{key}_process")[:63].rstrip("_")


def offering_key_for(process_id: str) -> str:
    """The derived key of `process_id`, or `_2`, `_3`... when another process holds it."""
    base, number = derive_key(process_id), 1
    while True:
        key = base if number == 1 else f"{base[: 63 - len(str(number)) - 1]}_{number}"
        latest = reads.latest_or_none(key)
        if latest is None or latest.meta.get("process_id", latest.process_key) == process_id:
            db.session.rollback()
            return key
        number += 1


def import_files(
    files: dict[str, bytes],
    *,
    user_id: int | None,
    operations,
    key: str | None = None,
    process_id: str | None = None,
):
    """Publish a BPMN file or bundle written by any tool, whatever its process id.

    The offering key is `key` when given, else derived from the process id (offering_key_for);
    the process id is kept. Returns (version, created) as publish does.

    Raises:
        InvalidInput: a bad key, or several executable processes and no `process_id` chosen.
        InvalidProcess: the files do not pass the checks.
    """
    if process_id is None:
        bpmn = {name: to_utf8(name, data) for name, data in files.items() if is_bpmn(name)}
        candidates = main_process_ids(bpmn)
        if len(candidates) > 1:
            raise InvalidInput(
                f"The files hold several executable processes ({', '.join(candidates)}): "
                "choose one as process_id.",
                errors={"process_id": [f"One of: {', '.join(candidates)}."]},
            )
        process_id = candidates[0] if candidates else None
    if process_id is None:
        raise InvalidInput(
            "The files hold no executable BPMN process.", errors={"file": ["No process."]}
        )
    key = key or offering_key_for(process_id)
    return publish(key, files, user_id=user_id, operations=operations, process_id=process_id)


def check(
    key: str, files: dict[str, bytes], *, operations, process_id: str | None = None
) -> Bundle:
    """Parse `files` as a bundle of `key` and run every publish check, writing nothing.

    What is not sent comes from the offering's latest version: all its BPMN files when none is
    sent, and each of its forms not sent again. A designer may send only the file they changed.

    Raises:
        InvalidInput: the key breaks the rule for offering keys.
        InvalidProcess: with extra["problems"] = [{file, line, id, message}].
    """
    if not KEY_PATTERN.match(key or ""):
        raise InvalidInput(
            f"{key!r} is not a valid offering key: {KEY_RULE}. Any BPMN process id can be"
            " deployed with POST /api/v1/processes, which derives the key.",
            errors={"key": [KEY_RULE]},
        )
    latest = reads.latest_or_none(key)
    process_id = process_id or (latest.meta.get("process_id") if latest else None) or key
    bundle = parse_bundle(key, _completed(key, files), process_id=process_id)
    found = checks.problems(bundle, operations=operations)
    if found:
        raise invalid(key, found)
    return bundle


def publish(
    key: str,
    files: dict[str, bytes],
    *,
    user_id: int | None,
    operations,
    process_id: str | None = None,
):
    """Check a bundle and store it as the next version of `key`; returns (version, created).

    Identical content returns the existing version (created False).

    Raises:
        InvalidProcess: the bundle does not pass the checks (nothing is written).
    """
    bundle = check(key, files, operations=operations, process_id=process_id)
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
    if not any(is_bpmn(name) for name in files):
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
