"""What each role may do, written once for the API, the web pages and the CLI."""

from engine.errors import Forbidden
from engine.identity.models import User

ROLES = ("requester", "approver", "agent", "designer", "admin")
AGENT_ROLES = ("agent", "admin")  # see every request, handle failed automated steps
DESIGNER_ROLES = ("designer", "admin")  # deploy offerings
CONSOLE_ROLES = ("agent", "approver", "designer", "admin")  # a request on its diagram


def sees_all_requests(user: User) -> bool:
    return user.has_role(*AGENT_ROLES)


def handles_failed_steps(user: User) -> bool:
    return user.has_role(*AGENT_ROLES)


def deploys(user: User) -> bool:
    return user.has_role(*DESIGNER_ROLES)


def uses_console(user: User) -> bool:
    return user.has_role(*CONSOLE_ROLES)


def has_inbox(user: User) -> bool:
    """Whoever may be handed a step: members of a group, approvers, agents and admins."""
    return bool(user.groups) or user.has_role("approver", "agent", "admin")


def check_handles_failed_steps(user: User) -> None:
    """Raise Forbidden unless the user may retry, correct, skip or cancel failed steps."""
    if not handles_failed_steps(user):
        raise Forbidden("only agents and admins handle failed steps")


def check_deploys(user: User) -> None:
    """Raise Forbidden unless the user may deploy offerings."""
    if not deploys(user):
        raise Forbidden("only designers and admins deploy processes")


def check_sees_all_requests(user: User) -> None:
    """Raise Forbidden unless the user may list everyone's requests."""
    if not sees_all_requests(user):
        raise Forbidden("only agents and admins list all requests")
