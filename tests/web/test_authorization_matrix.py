"""Authorisation matrix: every role against every API operation and page that reaches objects
of others — requests, tasks, attachments, comments, process versions, failed steps, tokens,
the audit log, users. Denied calls answer 403 or 404 and change nothing; allowed ones work.

The world: HR's onboarding (its approval step open in the managers' inbox, a comment, an upload
HR has not linked yet), a second onboarding whose account step failed, and an extra API token
of HR's. Mutating calls run as every role that must be refused; the allowed case of each runs
last, once, and must succeed.
"""

import io
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from engine.audit.service import CLI
from engine.automation import service as automation
from engine.automation.service import RetryPolicy
from engine.catalog.models import ProcessVersion
from engine.db import db
from engine.identity import service as identity
from engine.identity.models import ApiToken, Group, Role, User
from engine.instances.models import Attachment, HumanTask, InstanceComment, Job, ProcessInstance
from tests.web.support import ONBOARDING, open_task

USERS = ("requester", "hr", "manager", "it_agent", "designer", "admin")
SEES_A = {"hr", "manager", "it_agent", "admin"}  # requester, approver of its step, agents
AGENTS = {"it_agent", "admin"}
DESIGNERS = {"designer", "admin"}
ADMINS = {"admin"}
WORKS_T = {"manager", "admin"}  # the managers' group and admins
DENIED = {403, 404}


@dataclass(frozen=True)
class World:
    a: int  # HR's onboarding
    task: str  # its open approval step
    failed: int  # the onboarding whose account step failed
    job: int  # that failed step
    upload: int  # HR's upload, not linked to any request
    token_id: int  # HR's extra API token
    token: str


@pytest.fixture
def world(app, web) -> World:
    hr = web("hr")
    a = hr.start("new_hire_onboarding", ONBOARDING)
    hr.post(f"/requests/{a}/comments", {"body": "For the new hire"})
    failed = hr.start("new_hire_onboarding", {**ONBOARDING, "username": "other.hire"})
    manager = web("manager")
    task = open_task(app, failed, "manager_approval")
    manager.get(f"/inbox/tasks/{task}")
    manager.post(f"/inbox/tasks/{task}", {"manager_approved": "true"})
    api = app.test_client()
    upload = api.post(
        "/api/v1/instances/attachments", headers={"Authorization": "Bearer demo-hr"},
        data={"file": (io.BytesIO(b"%PDF-1.4 private"), "payslip.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert upload.status_code == 201, upload.get_json()
    with app.app_context():
        job = db.session.scalar(
            select(Job.id).filter_by(instance_id=failed, bpmn_id="create_accounts")
        )
        automation.begin_job(job, lease_seconds=60)
        automation.job_failed(job, "ConnectionError: directory unreachable", traceback=None,
                              transient=False, policy=RetryPolicy(max_attempts=1))  # fmt: skip
        hr_id = db.session.scalar(select(User.id).filter_by(username="hr"))
        row, token = identity.create_token(hr_id, "reports", scopes=["read", "write"],
                                           expires_at=None, actor=CLI)  # fmt: skip
        db.session.remove()
    app.extensions["flowdesk"].dispatch.job_ids.remove(job)
    return World(a, open_task(app, a, "manager_approval"), failed, job,
                 upload.get_json()["attachment_id"], row.id, token)  # fmt: skip


def snapshot(app) -> dict:
    """Everything a refused call must leave as it was."""
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        state = {
            "instances": sorted(db.session.execute(
                select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.version)).all()),
            "tasks": sorted(db.session.execute(
                select(HumanTask.task_id, HumanTask.state, HumanTask.assignee_id)).all()),
            "jobs": sorted(db.session.execute(select(Job.id, Job.status, Job.attempts)).all()),
            "tokens": sorted(db.session.execute(select(ApiToken.id, ApiToken.revoked_at)).all()),
            "comments": count(InstanceComment),
            "attachments": sorted(db.session.execute(
                select(Attachment.id, Attachment.instance_id)).all()),
            "versions": count(ProcessVersion),
            "users": sorted(db.session.execute(
                select(User.username, User.is_active, User.roles, User.password_hash,
                       User.display_name, User.email, User.department)).all()),
            "groups": sorted(db.session.execute(
                select(Group.key, Group.name_en, Group.name_zh)).all()),
            "roles": count(Role),
        }  # fmt: skip
        db.session.rollback()
        return state


def api_reads(w: World) -> list[tuple[str, set[str]]]:
    return [
        (f"/api/v1/instances/{w.a}", SEES_A),
        (f"/api/v1/instances/{w.a}/comments", SEES_A),
        (f"/api/v1/instances/{w.a}/attachments", SEES_A),
        (f"/api/v1/instances/{w.failed}", SEES_A),
        ("/api/v1/instances?scope=all", AGENTS),
        (f"/api/v1/tasks/{w.task}", WORKS_T),
        ("/api/v1/processes", DESIGNERS),
        ("/api/v1/processes/new_hire_onboarding/versions/1", DESIGNERS),
        ("/api/v1/failed-steps", AGENTS),
        ("/api/v1/metrics", AGENTS),
        ("/api/v1/users", ADMINS),
        ("/api/v1/groups", ADMINS),
        ("/api/v1/roles", ADMINS),
        ("/api/v1/users/hr", ADMINS),
        ("/api/v1/audit", ADMINS),
    ]


def api_writes(w: World) -> list[tuple[str, dict, set[str]]]:
    """(path, JSON body, the users allowed): run as every other user, each must be refused."""
    bpmn = b"<definitions/>"
    return [
        (f"/api/v1/instances/{w.a}/comments", {"body": "sneaky"}, SEES_A),
        (f"/api/v1/instances/{w.a}/cancel", {"reason": "mine now"}, {"hr", "it_agent", "admin"}),
        (f"/api/v1/tasks/{w.task}/claim", {}, WORKS_T),
        (f"/api/v1/tasks/{w.task}/complete", {"data": {"manager_approved": True}}, WORKS_T),
        (f"/api/v1/tasks/{w.task}/reassign", {"assignee": "manager"}, WORKS_T),
        ("/api/v1/failed-steps/retry", {"ids": [w.job]}, AGENTS),
        ("/api/v1/failed-steps/skip", {"ids": [w.job], "result": {}}, AGENTS),
        ("/api/v1/failed-steps/cancel", {"ids": [w.job], "reason": "x"}, AGENTS),
        (f"/api/v1/failed-steps/{w.job}/correct", {"changes": {"username": "x.y"}}, AGENTS),
        ("/api/v1/users", {"username": "mallory", "display_name": "M", "roles": ["admin"]},
         ADMINS),
        ("/api/v1/groups", {"key": "mallory", "name_en": "M"}, ADMINS),
        ("/api/v1/users/hr/password", {"password": "cobalt-Harbour-71-lantern"}, ADMINS),
        ("/api/v1/roles", {"key": "mallory", "name_en": "M", "capabilities": ["administer"]},
         ADMINS),
        ("/api/v1/processes/new_hire_onboarding/versions", {"_bpmn": bpmn.decode()}, DESIGNERS),
        ("/api/v1/processes?key=new_hire_onboarding", {"_bpmn": bpmn.decode()}, DESIGNERS),
    ]  # fmt: skip


def api_changes() -> list[tuple[str, str, dict | None, set[str]]]:
    """(method, path, JSON body, the users allowed) for what is not a POST."""
    return [
        ("PATCH", "/api/v1/users/hr", {"roles": ["admin"], "department": "it"}, ADMINS),
        ("PATCH", "/api/v1/users/admin", {"is_active": False}, ADMINS),
        ("PATCH", "/api/v1/groups/hr", {"name_en": "Mine"}, ADMINS),
        ("PATCH", "/api/v1/roles/approver", {"capabilities": ["administer"]}, ADMINS),
        ("DELETE", "/api/v1/roles/approver", None, ADMINS),
    ]


def web_reads(w: World) -> list[tuple[str, set[str]]]:
    return [
        (f"/requests/{w.a}", SEES_A),
        (f"/requests/{w.a}/files/{w.upload}", set()),  # not linked: nobody, not even HR
        (f"/console/requests/{w.a}", {"manager", "it_agent", "admin"}),
        (f"/console/requests/{w.a}/diagram.bpmn", {"manager", "it_agent", "admin"}),
        (f"/inbox/tasks/{w.task}", WORKS_T),
        ("/console/failed", AGENTS),
        ("/admin/users", ADMINS),
        ("/admin/groups", ADMINS),
        ("/admin/roles", ADMINS),
        ("/admin/tokens", ADMINS),
        ("/admin/audit", ADMINS),
    ]


def web_writes(w: World) -> list[tuple[str, dict, set[str]]]:
    return [
        (f"/requests/{w.a}/comments", {"body": "sneaky"}, SEES_A),
        (f"/requests/{w.a}/cancel", {"reason": "x"}, {"hr", "it_agent", "admin"}),
        (f"/console/requests/{w.a}/cancel", {"reason": "x"}, AGENTS),
        (f"/inbox/tasks/{w.task}", {"manager_approved": "true"}, WORKS_T),
        (f"/inbox/tasks/{w.task}/claim", {}, WORKS_T),
        (f"/inbox/tasks/{w.task}/reassign", {"assignee": "manager"}, WORKS_T),
        (f"/console/jobs/{w.job}/retry", {}, AGENTS),
        (f"/console/jobs/{w.job}/skip", {"result": "{}"}, AGENTS),
        ("/admin/users", {"username": "mallory", "display_name": "M", "roles": "admin"}, ADMINS),
        ("/admin/users/hr/password", {"password": "cobalt-Harbour-71-lantern"}, ADMINS),
        ("/admin/users/hr/active", {"active": "0"}, ADMINS),
        ("/admin/users/hr/memberships", {"roles": "admin"}, ADMINS),
        ("/admin/users/hr", {"display_name": "M", "roles": "admin", "department": "it"}, ADMINS),
        ("/admin/groups", {"key": "mallory", "name_en": "M"}, ADMINS),
        ("/admin/groups/hr", {"name_en": "Mine", "name_zh": "我的"}, ADMINS),
        ("/admin/roles", {"key": "mallory", "name_en": "M", "capabilities": "administer"}, ADMINS),
        ("/admin/roles/approver", {"name_en": "M", "capabilities": "administer"}, ADMINS),
        ("/admin/roles/approver/delete", {}, ADMINS),
        (f"/admin/tokens/{w.token_id}/revoke", {}, ADMINS),
    ]


def bearer(username: str) -> dict:
    return {"Authorization": f"Bearer demo-{username}"}


def test_every_role_reads_only_what_it_may(app, world):
    api = app.test_client()
    for path, allowed in api_reads(world):
        for username in USERS:
            status = api.get(path, headers=bearer(username)).status_code
            if username in allowed:
                assert status == 200, (username, path, status)
            else:
                assert status in DENIED, (username, path, status)


def test_every_role_sees_only_the_pages_it_may(app, web, world):
    clients = {username: web(username) for username in USERS}
    for path, allowed in web_reads(world):
        for username, client in clients.items():
            status = client.get(path).status_code
            if username in allowed:
                assert status == 200, (username, path, status)
            else:
                assert status in DENIED, (username, path, status)


def test_refused_writes_change_nothing(app, web, world):
    before = snapshot(app)
    api = app.test_client()
    for path, body, allowed in api_writes(world):
        for username in set(USERS) - allowed:
            status = api.post(path, json=body, headers=bearer(username)).status_code
            assert status in DENIED, (username, path, status)
    for method, path, body, allowed in api_changes():
        for username in set(USERS) - allowed:
            status = api.open(path, method=method, json=body, headers=bearer(username)).status_code
            assert status in DENIED, (username, method, path, status)
    for username in USERS:  # HR's token is HR's alone, for the API as for the web
        if username != "hr":
            answer = api.delete(f"/api/v1/tokens/{world.token_id}", headers=bearer(username))
            assert answer.status_code == 404, username
            web(username).post(f"/account/tokens/{world.token_id}/revoke")
    clients = {username: web(username) for username in USERS}
    for path, body, allowed in web_writes(world):
        for username in set(USERS) - allowed:
            status = clients[username].post(path, body).status_code
            assert status in DENIED, (username, path, status)
    assert snapshot(app) == before
    headers = {"Authorization": f"Bearer {world.token}"}
    assert api.get("/api/v1/tokens", headers=headers).status_code == 200  # still works


def test_the_allowed_cases_work(app, web, world):
    api = app.test_client()
    manager = bearer("manager")
    assert api.post(f"/api/v1/tasks/{world.task}/claim", headers=manager).status_code == 200
    completed = api.post(f"/api/v1/tasks/{world.task}/complete", headers=manager,
                         json={"data": {"manager_approved": True}})  # fmt: skip
    assert completed.status_code == 202
    comment = api.post(f"/api/v1/instances/{world.a}/comments", headers=bearer("it_agent"),
                       json={"body": "On it"})  # fmt: skip
    assert comment.status_code == 201
    retried = api.post("/api/v1/failed-steps/retry", headers=bearer("it_agent"),
                       json={"ids": [world.job]})  # fmt: skip
    assert retried.status_code == 200 and retried.get_json()[0]["outcome"] == "ok"
    admin = web("admin")
    admin.get("/admin/groups")
    assert admin.post("/admin/groups", {"key": "finance", "name_en": "Finance"}).status_code == 302
    assert api.delete(f"/api/v1/tokens/{world.token_id}", headers=bearer("hr")).status_code == 204
    cancelled = api.post(f"/api/v1/instances/{world.failed}/cancel", headers=bearer("hr"),
                         json={"reason": "changed my mind"})  # fmt: skip
    assert cancelled.status_code == 200
