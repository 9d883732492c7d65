"""What each role may do, written once for the API, the web pages and the CLI."""

from engine.errors import Forbidden
from engine.identity.models import User

ROLES = ("requester", "approver", "agent", "designer", "admin")
AGENT_ROLES = ("agent", "admin")  # see every request, handle failed automated steps
DESIGNER_ROLES = ("designer", "admin")  # deploy offerings
CONSOLE_ROLES = ("agent", "approver", "designer", "admin")  # a request on its diagram


ADMIN_ROLES = ("admin",)  # users, groups, roles, the audit log
ALLOWS = {  # role -> what it allows, for the roles list of the API and the admin pages
    "requester": "start requests from the catalog; see and cancel my own requests",
    "approver": "work on steps handed to me or my groups; see those requests on the diagram",
    "agent": "see every request; handle failed automated steps",
    "designer": "deploy offerings and read every process version's BPMN",
    "admin": "everything: users, groups, tokens, the audit log, every request and step",
}


def described() -> list[dict]:
    return [{"name": role, "allows": ALLOWS[role]} for role in ROLES]


def administers(user: User) -> bool:
    return user.has_role(*ADMIN_ROLES)


def check_administers(user: User) -> None:
    """Raise Forbidden unless the user is an administrator."""
    if not administers(user):
        raise Forbidden("only admins manage people and read the audit log")


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
