"""Roles as data, and what admins change of users and groups through the API.

Built-in roles are fixed; admins make their own roles from the same capabilities, give them to
users, change and delete them. Whatever would leave nobody able to administer is refused (409)
and changes nothing.
"""

import json

import pytest
from sqlalchemy import select

from engine.db import db
from engine.identity.models import Group, Role, User
from tests.api.support import Api

STRONG = "cobalt-Harbour-71-lantern"


def user_row(app, username: str) -> tuple:
    with app.app_context():
        u = db.session.scalar(select(User).filter_by(username=username))
        row = (u.display_name, u.email, u.roles, u.department, u.is_active, sorted(u.group_keys),
               u.password_hash)  # fmt: skip
        db.session.rollback()
        return row


def audit_kinds(admin: Api) -> list[str]:
    return [e["kind"] for e in admin.get("/api/v1/audit").get_json()["items"]]


def test_an_admin_makes_a_role_gives_it_and_its_capabilities_take_effect(app, as_user):
    admin, hr = as_user("admin"), as_user("hr")
    assert hr.get("/api/v1/instances?scope=all").status_code == 403
    made = admin.post("/api/v1/roles", json={
        "key": "hr_partner", "name_en": "HR partner", "name_zh": "HR 伙伴",
        "capabilities": ["see_all_requests"]})  # fmt: skip
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["built_in"], body["capabilities"], body["title"]["zh"]) == (
        False, ["request", "see_all_requests"], "HR 伙伴")  # fmt: skip
    given = admin.patch("/api/v1/users/hr", json={"roles": ["hr_partner"]})
    assert given.status_code == 200 and given.get_json()["roles"] == ["hr_partner", "requester"]
    assert hr.get("/api/v1/instances?scope=all").status_code == 200
    assert hr.get("/api/v1/failed-steps").status_code == 403  # only what the role allows
    changed = admin.patch("/api/v1/roles/hr_partner", json={"capabilities": ["deploy"]})
    assert changed.status_code == 200 and changed.get_json()["capabilities"] == [
        "request", "deploy"]  # fmt: skip
    assert hr.get("/api/v1/instances?scope=all").status_code == 403
    assert hr.get("/api/v1/processes").status_code == 200
    held = admin.delete("/api/v1/roles/hr_partner")
    assert held.status_code == 409 and "hr" in held.get_json()["detail"]
    assert admin.patch("/api/v1/users/hr", json={"roles": []}).status_code == 200
    assert admin.delete("/api/v1/roles/hr_partner").status_code == 204
    assert admin.get("/api/v1/roles").get_json()[-1]["name"] == "admin"
    assert audit_kinds(admin)[:5] == [
        "role_deleted",
        "user_changed",
        "role_changed",
        "user_changed",
        "role_created",
    ]


def test_built_in_roles_and_bad_roles_are_refused_and_change_nothing(app, as_user):
    admin = as_user("admin")
    assert admin.patch("/api/v1/roles/admin", json={"capabilities": []}).status_code == 409
    assert admin.delete("/api/v1/roles/agent").status_code == 409
    assert admin.post("/api/v1/roles", json={"key": "admin", "name_en": "x"}).status_code == 409
    assert admin.patch("/api/v1/roles/nope", json={"name_en": "x"}).status_code == 404
    assert admin.delete("/api/v1/roles/nope").status_code == 404
    for body in (
        {"key": "Bad Key", "name_en": "x"},
        {"key": "a" * 21, "name_en": "x"},
        {"key": "ok", "name_en": "x", "capabilities": ["root"]},
        {"key": "ok", "name_en": ""},
        {"key": "ok"},
    ):
        answer = admin.post("/api/v1/roles", json=body)
        assert answer.status_code == 422, (body, answer.get_json())
    assert admin.patch("/api/v1/users/hr", json={"roles": ["nope"]}).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Role).limit(1)) is None
    assert [r["name"] for r in admin.get("/api/v1/roles").get_json()] == [
        "requester", "approver", "agent", "designer", "admin"]  # fmt: skip


def test_an_admin_changes_a_user_and_bad_fields_change_nothing(app, as_user):
    admin = as_user("admin")
    changed = admin.patch("/api/v1/users/hr", json={
        "display_name": "Hannah Li", "email": "hannah@example.com", "department": "hr",
        "groups": ["hr", "managers"]})  # fmt: skip
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["display_name"], body["email"], body["department"], body["groups"]) == (
        "Hannah Li", "hannah@example.com", "hr", ["hr", "managers"])  # fmt: skip
    assert admin.get("/api/v1/users/hr").get_json()["display_name"] == "Hannah Li"
    before = user_row(app, "hr")
    for body, field in (
        ({"email": "not-an-address"}, "email"),
        ({"department": "Human Resources"}, "department"),
        ({"display_name": "   "}, "display_name"),
        ({"groups": ["no_such_group"]}, "groups"),
        ({"roles": ["no_such_role"]}, "roles"),
        ({"email": "x", "groups": ["nope"]}, "groups"),  # every bad field is named
    ):
        answer = admin.patch("/api/v1/users/hr", json=body)
        assert answer.status_code == 422 and field in answer.get_json()["errors"], (body, answer)
    assert admin.patch("/api/v1/users/hr", json={"username": "x"}).status_code == 422
    for url in ("/api/v1/users/hr", "/api/v1/groups/hr", "/api/v1/roles/approver"):
        assert admin.patch(url).status_code == 422, url  # no body: nothing to change
        assert admin.patch(url, json={}).status_code == 422, url
    assert admin.patch("/api/v1/users/nobody", json={"email": ""}).status_code == 404
    assert admin.get("/api/v1/users/nobody").status_code == 404
    assert user_row(app, "hr") == before
    assert admin.patch("/api/v1/users/hr", json={"department": None}).get_json()[
        "department"] is None  # fmt: skip
    detail = admin.get("/api/v1/audit?kind=user_changed").get_json()["items"][0]["detail"]
    assert detail["were"] == {"department": "hr"}


def test_nobody_locks_every_admin_out(app, as_user):
    admin = as_user("admin")
    me = admin.patch("/api/v1/users/admin", json={"is_active": False})
    assert me.status_code == 409 and "yourself" in me.get_json()["detail"]
    last = admin.patch("/api/v1/users/admin", json={"roles": ["agent"]})
    assert last.status_code == 409 and "last active administrator" in last.get_json()["detail"]
    assert user_row(app, "admin")[2] == "requester,admin"
    # a second administrator through a role of our own, then the first may step down
    made = admin.post("/api/v1/roles", json={"key": "it_head", "name_en": "IT head",
                                             "capabilities": ["administer"]})  # fmt: skip
    assert made.status_code == 201
    given = admin.patch("/api/v1/users/it_agent", json={"roles": ["agent", "it_head"]})
    assert given.status_code == 200
    assert admin.patch("/api/v1/users/admin", json={"roles": []}).status_code == 200
    assert admin.get("/api/v1/users").status_code == 403  # no longer an admin
    head = as_user("it_agent")
    assert head.get("/api/v1/users").status_code == 200
    # the role that makes the only administrator cannot stop administering
    emptied = head.patch("/api/v1/roles/it_head", json={"capabilities": ["deploy"]})
    assert emptied.status_code == 409
    assert head.patch("/api/v1/users/it_agent", json={"is_active": False}).status_code == 409
    assert head.get("/api/v1/roles").get_json()[-1]["capabilities"] == ["request", "administer"]


def test_an_admin_resets_a_password_and_renames_a_group(app, as_user):
    admin = as_user("admin")
    before = user_row(app, "hr")
    weak = admin.post("/api/v1/users/hr/password", json={"password": "short"})
    assert weak.status_code == 422 and user_row(app, "hr") == before
    assert admin.post("/api/v1/users/nobody/password", json={"password": STRONG}).status_code == 404
    assert admin.post("/api/v1/users/hr/password", json={"password": STRONG}).status_code == 204
    assert user_row(app, "hr")[-1] != before[-1]
    renamed = admin.patch("/api/v1/groups/hr", json={"name_zh": "人力资源部"})
    assert renamed.status_code == 200
    assert renamed.get_json()["name"] == {"en": "HR", "zh": "人力资源部"}
    assert admin.patch("/api/v1/groups/hr", json={"name_en": ""}).status_code == 422
    assert admin.patch("/api/v1/groups/nope", json={"name_en": "x"}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Group.name_en).filter_by(key="hr")) == "HR"
    assert audit_kinds(admin)[:2] == ["group_changed", "password_set"]


def test_only_admins_change_people_and_roles(app, as_user):
    before = user_row(app, "hr")
    for username in ("requester", "it_agent", "manager", "designer", "hr"):
        api = as_user(username)
        assert api.patch("/api/v1/users/hr", json={"roles": ["admin"]}).status_code == 403
        assert api.get("/api/v1/users/hr").status_code == 403
        assert api.post("/api/v1/users/hr/password", json={"password": STRONG}).status_code == 403
        assert api.patch("/api/v1/groups/hr", json={"name_en": "x"}).status_code == 403
        assert api.post("/api/v1/roles", json={"key": "x", "name_en": "x"}).status_code == 403
    assert user_row(app, "hr") == before


def test_create_role_from_the_cli(app):
    runner = app.test_cli_runner()
    with app.app_context():
        made = runner.invoke(args=["flowdesk", "create-role", "auditor", "--name", "Auditor",
                                   "--allows", "see_all_requests,view_diagrams"])  # fmt: skip
        assert made.exit_code == 0, made.output
        bad = runner.invoke(args=["flowdesk", "create-role", "x", "--name", "X", "--allows",
                                  "root"])  # fmt: skip
        assert bad.exit_code != 0 and "Unknown: root" in bad.output
        role = db.session.scalar(select(Role).filter_by(key="auditor"))
        assert role.capability_set == {"request", "see_all_requests", "view_diagrams"}
        assert db.session.scalar(select(Role).filter_by(key="x")) is None


def test_long_passwords_are_scored_not_500(app, as_user):
    admin = as_user("admin")
    long = STRONG + "-and-then-some" * 12  # zxcvbn itself refuses more than 72 characters
    assert admin.post("/api/v1/users/hr/password", json={"password": long}).status_code == 204
    weak = "a" * 200
    assert admin.post("/api/v1/users/hr/password", json={"password": weak}).status_code == 422
    created = admin.post("/api/v1/users", json={"username": "longpw", "display_name": "L",
                                                "password": long})  # fmt: skip
    assert created.status_code == 201


@pytest.mark.parametrize("password", ["\ud800" + "x" * 12, "tab\there-Harbour-71", "nul\x00x" * 3])
def test_passwords_no_one_can_type_are_refused_not_500(app, as_user, password):
    admin = as_user("admin")
    before = user_row(app, "hr")

    def send(url: str, body: dict):  # as JSON escapes: "\ud800" reaches the server as it is
        return admin.post(url, data=json.dumps(body), content_type="application/json")

    answer = send("/api/v1/users/hr/password", {"password": password})
    assert answer.status_code == 422, answer.get_json()
    mine = send("/api/v1/me/password", {"current_password": password, "new_password": STRONG})
    assert mine.status_code == 422, mine.get_json()
    assert {"current_password", "json"} & set(mine.get_json()["errors"])
    assert user_row(app, "hr") == before


def test_the_role_filter_matches_a_role_key_as_written_not_as_a_pattern(app, as_user):
    admin = as_user("admin")
    assert admin.get("/api/v1/users?role=%").get_json()["total"] == 0
    assert admin.get("/api/v1/users?role=_gent").get_json()["total"] == 0
    agents = admin.get("/api/v1/users?role=agent").get_json()["items"]
    assert [u["username"] for u in agents] == ["hr_agent", "it_agent"]
