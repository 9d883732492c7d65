"""What each role may do, written once for the API, the web pages and the CLI.

A role is a named set of capabilities. Five roles are built in and cannot be changed (every
check below and every test leans on them); admins add their own roles as data (`Role` rows),
each a set of the same capabilities, to give "HR partner" or "service owner" exactly what it
needs. A user holds one or more roles, requester always.
"""

import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from engine.db import db
from engine.errors import Forbidden
from engine.identity.models import Role, User


class Capability(StrEnum):
    REQUEST = "request"  # start requests from the catalog; see and cancel my own
    WORK_STEPS = "work_steps"  # an inbox: steps handed to me or my groups
    VIEW_DIAGRAMS = "view_diagrams"  # a request I may see, on its diagram, in the console
    SEE_ALL_REQUESTS = "see_all_requests"  # every request (of my department, if I have one)
    HANDLE_FAILED_STEPS = "handle_failed_steps"  # retry, correct, skip or cancel failed steps
    DEPLOY = "deploy"  # deploy offerings; read every process version's BPMN
    ADMINISTER = "administer"  # users, groups, roles, tokens, the audit log, any step


ALLOWS = {  # capability -> what it allows, for the roles list of the API and the admin pages
    Capability.REQUEST: "start requests from the catalog; see and cancel my own requests",
    Capability.WORK_STEPS: "work on steps handed to me or my groups",
    Capability.VIEW_DIAGRAMS: "see the requests I may see on their diagram",
    Capability.SEE_ALL_REQUESTS: "see every request (of my department, if I have one)",
    Capability.HANDLE_FAILED_STEPS: "retry, correct, skip or cancel failed automated steps",
    Capability.DEPLOY: "deploy offerings and read every process version's BPMN",
    Capability.ADMINISTER: "users, groups, roles, tokens, the audit log; act on any step",
}

C = Capability
BUILT_IN = {  # role -> capabilities; fixed, so that no edit can lock every admin out
    "requester": frozenset({C.REQUEST}),
    "approver": frozenset({C.REQUEST, C.WORK_STEPS, C.VIEW_DIAGRAMS}),
    "agent": frozenset(
        {C.REQUEST, C.WORK_STEPS, C.VIEW_DIAGRAMS, C.SEE_ALL_REQUESTS, C.HANDLE_FAILED_STEPS}
    ),  # fmt: skip
    "designer": frozenset({C.REQUEST, C.VIEW_DIAGRAMS, C.DEPLOY}),
    "admin": frozenset(Capability),
}
ROLES = tuple(BUILT_IN)  # the built-in roles, in the order pages list them
BUILT_IN_NAMES = {
    "requester": ("Requester", "申请人"),
    "approver": ("Approver", "审批人"),
    "agent": ("Agent", "处理人"),
    "designer": ("Process designer", "流程设计者"),
    "admin": ("Administrator", "管理员"),
}
CACHE_SECONDS = 5.0  # how long another process may act on a role as it was before an edit


@dataclass(frozen=True)
class RoleInfo:
    key: str
    name_en: str
    name_zh: str
    capabilities: frozenset[Capability]
    is_built_in: bool

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


_BUILT_IN = {key: RoleInfo(key, *BUILT_IN_NAMES[key], caps, True) for key, caps in BUILT_IN.items()}
_custom: tuple[int, float, dict[str, RoleInfo]] | None = None  # (database, read at, roles)


def _custom_roles() -> dict[str, RoleInfo]:
    """The roles admins made, read at most every CACHE_SECONDS per process and database."""
    global _custom
    now, database = time.monotonic(), id(db.engine)
    if _custom is None or _custom[0] != database or now - _custom[1] > CACHE_SECONDS:
        rows = db.session.scalars(select(Role).order_by(Role.key))
        found = {
            r.key: RoleInfo(r.key, r.name_en, r.name_zh, frozenset(r.capability_set), False)
            for r in rows
        }
        _custom = (database, now, found)
    return _custom[2]


def forget() -> None:
    """Read the roles again at the next check (this process changed one)."""
    global _custom
    _custom = None


def known() -> dict[str, RoleInfo]:
    """Every role by key: the built-in ones first, then the admins' own."""
    return {**_BUILT_IN, **_custom_roles()}


def capabilities(user: User) -> frozenset[Capability]:
    """What the user's roles allow together; a role that no longer exists allows nothing."""
    every = known()
    found: set[Capability] = set()
    for key in user.role_set:
        role = every.get(key)
        if role is not None:
            found |= role.capabilities
    return frozenset(found)


def can(user: User, capability: Capability) -> bool:
    return capability in capabilities(user)


def described() -> list[dict]:
    return [
        {"name": r.key, "title": {"en": r.name_en, "zh": r.name_zh}, "built_in": r.is_built_in,
         "capabilities": [c.value for c in Capability if c in r.capabilities],
         "allows": "; ".join(ALLOWS[c] for c in Capability if c in r.capabilities)}
        for r in known().values()
    ]  # fmt: skip


def administers(user: User) -> bool:
    return can(user, C.ADMINISTER)


def check_administers(user: User) -> None:
    """Raise Forbidden unless the user is an administrator."""
    if not administers(user):
        raise Forbidden("only admins manage people and read the audit log")


def sees_all_requests(user: User) -> bool:
    return can(user, C.SEE_ALL_REQUESTS)


def handles_failed_steps(user: User) -> bool:
    return can(user, C.HANDLE_FAILED_STEPS)


def deploys(user: User) -> bool:
    return can(user, C.DEPLOY)


def uses_console(user: User) -> bool:
    return can(user, C.VIEW_DIAGRAMS)


def acts_on_any_step(user: User) -> bool:
    """Admins may complete, claim or hand back any open step, whoever holds it."""
    return can(user, C.ADMINISTER)


def has_inbox(user: User) -> bool:
    """Whoever may be handed a step: members of a group, and roles that work on steps."""
    return bool(user.groups) or can(user, C.WORK_STEPS)


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
