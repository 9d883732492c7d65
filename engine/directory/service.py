"""Units of work on the directory, called by the `directory.*` operations (idempotent per job)."""

from sqlalchemy import select

from engine.db import db, write_unit
from engine.directory.models import DirectoryAccount
from engine.errors import BusinessError, ProcessFailed


@write_unit
def create_account(
    username: str, full_name: str, *, job_id: int, department=None, employment_type=None
) -> DirectoryAccount:
    """Create an account; a retry of the same job returns the account it created.

    Raises:
        BusinessError: username_taken, when another job or person created it.
    """
    account = db.session.scalar(select(DirectoryAccount).filter_by(username=username))
    if account is not None and account.created_by_job_id != job_id:
        db.session.rollback()
        raise BusinessError(
            f"the username '{username}' is already taken", error_code="username_taken"
        )
    if account is None:
        account = DirectoryAccount(
            username=username,
            full_name=full_name,
            email=f"{username}@example.com",
            department=department,
            employment_type=employment_type,
            created_by_job_id=job_id,
        )
        db.session.add(account)
    db.session.commit()
    return account


@write_unit
def grant_vpn(username: str, profile: str) -> DirectoryAccount:
    """Give an account a VPN profile (idempotent: granting twice changes nothing).

    Raises:
        ProcessFailed: no such account.
    """
    account = db.session.scalar(select(DirectoryAccount).filter_by(username=username))
    if account is None:
        db.session.rollback()
        raise ProcessFailed(f"no directory account '{username}'", username=username)
    account.vpn_profile = profile
    db.session.commit()
    return account
