"""Directory accounts (the demo company's; a real deployment points operations elsewhere)."""

from engine.db import db, utcnow


class DirectoryAccount(db.Model):
    """An account in the demo company directory that `directory.*` operations write to."""

    __tablename__ = "directory_account"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), unique=True, nullable=False)
    full_name = db.Column(db.String(200), nullable=False)
    email = db.Column(db.String(200), nullable=False)
    department = db.Column(db.String(80), nullable=True)
    employment_type = db.Column(db.String(32), nullable=True)
    vpn_profile = db.Column(db.String(64), nullable=True)
    created_by_job_id = db.Column(db.Integer, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
