"""Immutable versions of offerings (BPMN, forms and metadata together) and catalog categories."""

from sqlalchemy import JSON, UniqueConstraint
from sqlalchemy.orm import deferred

from engine.db import db, utcnow


class ProcessVersion(db.Model):
    """One immutable deployment of an offering bundle; the spec is stored here once."""

    __tablename__ = "process_version"
    keep_loaded = is_immutable = True  # never read twice in one request (engine.db)
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        UniqueConstraint("process_key", "content_hash"),
    )
    id = db.Column(db.Integer, primary_key=True)
    process_key = db.Column(db.String(64), nullable=False, index=True)
    version = db.Column(db.Integer, nullable=False)
    content_hash = db.Column(db.String(64), nullable=False)  # BPMN files and forms together
    files = deferred(db.Column(JSON, nullable=False))  # {file name: BPMN text}; loaded on use
    forms = deferred(db.Column(JSON, nullable=False, default=dict, server_default="{}"))
    spec_json = deferred(db.Column(db.Text, nullable=False))
    meta = db.Column(JSON, nullable=False)  # catalog metadata, start form, embedded forms, lanes
    is_bundled = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_by_id = db.Column(db.ForeignKey("user_account.id"), nullable=True)


class Category(db.Model):
    """A business scenario of the catalog (onboarding, store operations, ...): data, not code."""

    __tablename__ = "catalog_category"
    key = db.Column(db.String(64), primary_key=True)
    name_en = db.Column(db.String(120), nullable=False)
    name_zh = db.Column(db.String(120), nullable=False)
    icon = db.Column(db.String(32), nullable=False, default="grid")
    position = db.Column(db.Integer, nullable=False, default=100)

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en
