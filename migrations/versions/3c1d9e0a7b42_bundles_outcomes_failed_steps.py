"""offering bundles (forms stored with versions), outcomes, decisions, failed steps, categories

Revision ID: 3c1d9e0a7b42
Revises: 82932e679225
Create Date: 2026-12-02 08:00:00

- process_version.forms: every version gets the forms its BPMN names, as the form registry
  served them until now (the files under processes/*/forms/), and its content hash is the bundle
  hash (BPMN and forms together), so the next sync sees it as unchanged if nothing else changed.
- process_instance.outcome becomes a value set by the process (done, rejected, cancelled), with
  the reason of a rejection; title_zh joins title.
- human_task.decision: approved or rejected, for steps that decide.
- instance_event kinds: a failed automated step is no longer called an "incident".
- catalog_category: the catalog's business scenarios, as data.
- files sent with a start form are linked to their request.
"""
import base64
import hashlib
import json
import re
import zlib
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3c1d9e0a7b42'
down_revision = '82932e679225'
branch_labels = None
depends_on = None

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
EVENT_KINDS = {"incident": "step_failed", "incident_retried": "step_retried",
               "incident_skipped": "step_skipped"}
REJECTION_WORDS = ("reject", "declin", "denied", "refus")  # how the web told them apart until now
FORM_PROPERTY = re.compile(r'<spiffworkflow:property\s+name="form"\s+value="([^"]+)"')


def upgrade():
    # Plain ADD COLUMNs: SQLite takes them in place (a batch copy of process_version would trip
    # the foreign keys of the rows that refer to it).
    op.add_column('process_version',
                  sa.Column('forms', sa.JSON(), nullable=False, server_default='{}'))
    op.add_column('process_instance', sa.Column('title_zh', sa.String(length=200), nullable=True))
    op.add_column('process_instance', sa.Column('outcome_reason', sa.Text(), nullable=True))
    op.add_column('human_task', sa.Column('decision', sa.String(length=16), nullable=True))
    op.create_table('catalog_category',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('icon', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    bind = op.get_bind()
    _attach_forms(bind)
    _outcomes(bind)
    for old, new in EVENT_KINDS.items():
        bind.execute(sa.text("UPDATE instance_event SET kind = :new WHERE kind = :old"),
                     {"old": old, "new": new})
    _link_start_files(bind)


def downgrade():
    bind = op.get_bind()
    for old, new in EVENT_KINDS.items():
        bind.execute(sa.text("UPDATE instance_event SET kind = :old WHERE kind = :new"),
                     {"old": old, "new": new})
    op.drop_table('catalog_category')
    op.drop_column('human_task', 'decision')
    op.drop_column('process_instance', 'outcome_reason')
    op.drop_column('process_instance', 'title_zh')
    op.drop_column('process_version', 'forms')


def _todays_forms() -> dict:
    forms = {}
    for path in sorted(PROCESSES.glob("*/forms/*.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        forms[definition["key"]] = definition
    return forms


def _bundle_hash(bpmn: dict, forms: dict) -> str:
    """engine.catalog.bundles.bundle_hash as of this revision (migrations stay as written)."""
    digest = hashlib.sha256()
    for name in sorted(bpmn):
        digest.update(hashlib.sha256(name.encode()).digest())
        digest.update(hashlib.sha256(bpmn[name]).digest())
    for key in sorted(forms):
        canonical = json.dumps(forms[key], sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode()
        digest.update(hashlib.sha256(f"form:{key}".encode()).digest())
        digest.update(hashlib.sha256(canonical).digest())
    return digest.hexdigest()


def _json(value):
    return json.loads(value) if isinstance(value, str) else (value or {})


def _attach_forms(bind) -> None:
    known = _todays_forms()
    rows = bind.execute(sa.text("SELECT id, files, meta FROM process_version")).fetchall()
    for version_id, files, meta in rows:
        files, meta = _json(files), _json(meta)
        keys = {meta.get("start_form")} if meta.get("start_form") else set()
        for text in files.values():
            keys.update(FORM_PROPERTY.findall(text))
        forms = {key: known[key] for key in sorted(keys) if key in known}
        bpmn = {name: text.encode("utf-8") for name, text in files.items()}
        bind.execute(
            sa.text("UPDATE process_version SET forms = :forms, content_hash = :hash "
                    "WHERE id = :id"),
            {"forms": json.dumps(forms, ensure_ascii=False), "hash": _bundle_hash(bpmn, forms),
             "id": version_id},
        )


def _document(text: str) -> dict:
    try:
        if text.startswith("z:"):
            text = zlib.decompress(base64.b64decode(text[2:])).decode()
        return json.loads(text)
    except (ValueError, zlib.error):
        return {}


def _data(document: dict) -> dict:
    merged = {}
    for task in (document.get("tasks") or {}).values():
        if isinstance(task, dict) and isinstance(task.get("data"), dict):
            merged.update(task["data"])
    merged.update(document.get("data") or {})
    return merged


def _outcomes(bind) -> None:
    rows = bind.execute(sa.text(
        "SELECT id, status, outcome, workflow_json FROM process_instance "
        "WHERE status IN ('complete', 'cancelled')")).fetchall()
    for instance_id, status, outcome, workflow_json in rows:
        reason = None
        if status == "cancelled":
            value = "cancelled"
        elif any(word in (outcome or "").lower() for word in REJECTION_WORDS):
            value = "rejected"
            data = _data(_document(workflow_json or ""))
            for key, flag in data.items():
                if key.endswith("_approved") and flag is False:
                    reason = data.get(key.removesuffix("_approved") + "_comment") or None
        else:
            value = "done"
        bind.execute(sa.text("UPDATE process_instance SET outcome = :o, outcome_reason = :r "
                             "WHERE id = :id"), {"o": value, "r": reason, "id": instance_id})


def _attachment_ids(value, found: set) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("attachment_id"), int):
                found.add(item["attachment_id"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _link_start_files(bind) -> None:
    unlinked = bind.execute(sa.text(
        "SELECT id, uploaded_by_id FROM attachment WHERE instance_id IS NULL")).fetchall()
    if not unlinked:
        return
    owner = dict(unlinked)
    rows = bind.execute(sa.text(
        "SELECT id, requested_by_id, workflow_json FROM process_instance")).fetchall()
    for instance_id, requester, workflow_json in rows:
        found: set = set()
        _attachment_ids(_data(_document(workflow_json or "")), found)
        for attachment_id in sorted(found):
            if owner.get(attachment_id) == requester:
                bind.execute(sa.text("UPDATE attachment SET instance_id = :i WHERE id = :a"),
                             {"i": instance_id, "a": attachment_id})
                owner.pop(attachment_id)
