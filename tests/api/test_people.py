"""People through the API: users, groups, roles (admins), my tokens and password, the audit log."""

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.identity.models import ApiToken, Group, User

STRONG = "cobalt-Harbour-71-lantern"


def count(app, model) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model))
        db.session.rollback()
        return n


def test_admins_create_groups_and_users_with_passwords(app, as_user):
    admin = as_user("admin")
    group = admin.post("/api/v1/groups", json={"key": "finance", "name_en": "Finance",
                                               "name_zh": "财务"})  # fmt: skip
    assert group.status_code == 201, group.get_json()
    assert group.get_json()["name"] == {"en": "Finance", "zh": "财务"}
    created = admin.post("/api/v1/users", json={
        "username": "fiona", "display_name": "Fiona Finance", "roles": ["requester", "agent"],
        "groups": ["finance"], "password": STRONG})  # fmt: skip
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["roles"], body["groups"], body["has_password"]) == (
        ["agent", "requester"],
        ["finance"],
        True,
    )
    users = admin.get("/api/v1/users?group=finance").get_json()
    assert [u["username"] for u in users["items"]] == ["fiona"]
    agents = admin.get("/api/v1/users?role=agent").get_json()
    assert [u["username"] for u in agents["items"]] == ["fiona", "hr_agent", "it_agent"]
    assert [r["name"] for r in admin.get("/api/v1/roles").get_json()][0] == "requester"
    kinds = [e["kind"] for e in admin.get("/api/v1/audit").get_json()["items"]]
    assert kinds[:2] == ["user_created", "group_created"]


def test_weak_passwords_and_taken_names_are_refused_and_change_nothing(app, as_user):
    admin = as_user("admin")
    before = count(app, User)
    for password in ("short", "password1234", "fionafiona1"):
        answer = admin.post("/api/v1/users", json={"username": "fiona", "display_name": "Fiona",
                                                   "password": password})  # fmt: skip
        assert answer.status_code == 422 and "password" in answer.get_json()["errors"]
    assert (
        admin.post("/api/v1/users", json={"username": "hr", "display_name": "x"}).status_code == 409
    )
    assert admin.post("/api/v1/groups", json={"key": "hr", "name_en": "x"}).status_code == 409
    assert count(app, User) == before


def test_people_and_the_audit_log_are_for_admins_only(app, as_user):
    before = (count(app, User), count(app, Group))
    for username in ("requester", "it_agent", "manager", "designer", "hr"):
        client = as_user(username)
        for url in ("/api/v1/users", "/api/v1/groups", "/api/v1/roles", "/api/v1/audit"):
            assert client.get(url).status_code == 403, (username, url)
        assert (
            client.post("/api/v1/users", json={"username": "x", "display_name": "x"}).status_code
            == 403
        )
        assert client.post("/api/v1/groups", json={"key": "x", "name_en": "x"}).status_code == 403
    assert (count(app, User), count(app, Group)) == before


def test_a_token_is_shown_once_works_with_its_scopes_and_is_revoked_by_its_owner(app, as_user):
    hr = as_user("hr")
    created = hr.post("/api/v1/tokens", json={"name": "reports", "scopes": ["read"]})
    assert created.status_code == 201
    token, token_id = created.get_json()["token"], created.get_json()["info"]["id"]
    listed = hr.get("/api/v1/tokens").get_json()
    assert [t["name"] for t in listed] == ["reports", "demo"] and "token" not in listed[0]
    reader = as_user("hr", token=token)
    assert reader.get("/api/v1/instances").status_code == 200
    refused = reader.post("/api/v1/tokens", json={"name": "more"})
    assert refused.status_code == 403  # a read-only token
    assert as_user("manager").delete(f"/api/v1/tokens/{token_id}").status_code == 404
    assert reader.delete(f"/api/v1/tokens/{token_id}").status_code == 403  # read scope
    assert hr.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    assert reader.get("/api/v1/instances").status_code == 401
    kinds = [e["kind"] for e in as_user("admin").get("/api/v1/audit?actor=hr").get_json()["items"]]
    assert {"token_created", "token_used", "token_revoked"} <= set(kinds)


def test_the_token_of_this_very_call_is_not_revoked_and_expired_tokens_stop(app, as_user):
    hr = as_user("hr")
    with app.app_context():
        own = db.session.scalar(
            select(ApiToken.id).filter_by(
                name="demo", user_id=select(User.id).filter_by(username="hr").scalar_subquery()
            )
        )
    assert hr.delete(f"/api/v1/tokens/{own}").status_code == 409
    past = hr.post(
        "/api/v1/tokens", json={"name": "old", "expires_at": "2020-01-01T00:00:00+08:00"}
    )
    assert past.status_code == 422


def test_i_change_my_password_with_the_current_one(app, as_user):
    hr = as_user("hr")
    wrong = hr.post(
        "/api/v1/me/password", json={"current_password": "nope", "new_password": STRONG}
    )
    assert wrong.status_code == 422 and "current_password" in wrong.get_json()["errors"]
    weak = hr.post(
        "/api/v1/me/password", json={"current_password": "demo", "new_password": "demo12345678"}
    )
    assert weak.status_code == 422 and "password" in weak.get_json()["errors"]
    assert (
        hr.post(
            "/api/v1/me/password", json={"current_password": "demo", "new_password": STRONG}
        ).status_code
        == 204
    )
    kinds = [
        e["kind"]
        for e in as_user("admin").get("/api/v1/audit?kind=password_set").get_json()["items"]
    ]
    assert kinds == ["password_set"]


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00%2B08:00", "9999-12-31T23:59:59-08:00"])
def test_audit_times_beyond_the_calendar_in_utc_are_refused_not_500(as_user, since):
    answer = as_user("admin").get(f"/api/v1/audit?since={since}")
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert "since" in answer.get_json()["errors"]
