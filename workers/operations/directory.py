"""`directory.*`: accounts and VPN profiles in the company directory (the demo's, in the DB)."""

from engine.directory import service as directory
from workers.operations.context import OperationContext, require


def create_account(params: dict, ctx: OperationContext) -> dict:
    """Create a directory account; a retry of the same job returns the account it created."""
    username, full_name = require(params, "username", "full_name")
    account = directory.create_account(
        str(username),
        str(full_name),
        job_id=ctx.job_id,
        department=params.get("department"),
        employment_type=params.get("employment_type"),
    )
    return {"username": account.username, "email": account.email, "created": True}


def grant_vpn(params: dict, ctx: OperationContext) -> dict:
    """Give a directory account a VPN profile (idempotent: granting twice changes nothing)."""
    username, profile = require(params, "username", "profile")
    account = directory.grant_vpn(str(username), str(profile))
    return {"username": account.username, "vpn_profile": account.vpn_profile, "granted": True}
