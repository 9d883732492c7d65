"""The administration pages (admin role) and my account page: users, groups, roles, tokens, the
audit log with filters; changing my password and creating a token that is shown once."""

import re

import pytest

from engine.db import db
from engine.identity import reads as identity_reads
from tests.web.support import Web, text, visible_text

STRONG = "cobalt-Harbour-71-lantern"
ADMIN_PAGES = ("/admin/users", "/admin/groups", "/admin/roles", "/admin/tokens", "/admin/audit")


@pytest.mark.parametrize("username", ["requester", "hr", "manager", "it_agent", "designer"])
def test_administration_is_for_admins_only(web, username):
    client = web(username)
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 403, url
    assert client.post("/admin/groups", {"key": "x", "name_en": "X"}).status_code == 403
    assert client.post("/admin/users/hr/active", {"active": "0"}).status_code == 403
    assert "Administration" not in text(client.get("/catalog"))


def test_an_admin_creates_a_group_and_a_user_who_then_signs_in(app, web):
    admin = web("admin")
    for url in ADMIN_PAGES:
        assert admin.get(url).status_code == 200, url
    admin.get("/admin/groups")
    admin.post("/admin/groups", {"key": "finance", "name_en": "Finance", "name_zh": "财务"})
    assert "finance" in text(admin.get("/admin/groups"))
    admin.get("/admin/users")
    weak = admin.post(
        "/admin/users", {"username": "fiona", "display_name": "Fiona", "password": "password1"},
        follow_redirects=True,
    )  # fmt: skip
    assert "At least 10 characters." in visible_text(weak)
    admin.get("/admin/users")
    admin.post("/admin/users", {"username": "fiona", "display_name": "Fiona Finance",
                                "roles": ["requester", "agent"], "groups": ["finance"],
                                "password": STRONG})  # fmt: skip
    page = text(admin.get("/admin/users?group=finance"))
    assert 'data-user="fiona"' in page and 'data-user="hr"' not in page
    admin.post("/admin/users/hr/memberships", {"roles": ["approver"], "groups": ["finance", "hr"]})
    with app.app_context():
        hr = identity_reads.user_by_username("hr")
        assert (hr.role_set, hr.group_keys) == ({"requester", "approver"}, {"finance", "hr"})
        db.session.remove()
    Web(app).login("fiona", STRONG)
    admin.get("/admin/users")
    admin.post("/admin/users/fiona/active", {"active": "0"})
    fiona = Web(app)
    fiona.get("/login")
    assert fiona.post("/login", {"username": "fiona", "password": STRONG}).status_code == 401


def test_the_audit_page_shows_sign_ins_and_filters_them(app, web):
    stranger = Web(app)
    stranger.get("/login")
    stranger.post("/login", {"username": "hr", "password": "wrong"})
    web("hr")
    admin = web("admin")
    page = visible_text(admin.get("/admin/audit"))
    assert "Failed sign-in" in page and "Signed in" in page
    failed = text(admin.get("/admin/audit?kind=sign_in_failed"))
    assert 'data-kind="sign_in_failed"' in failed and 'data-kind="sign_in"' not in failed
    only_hr = text(admin.get("/admin/audit?actor=hr&kind=sign_in"))
    assert only_hr.count('data-kind="sign_in"') == 1
    assert "没有" not in only_hr
    zh = web("admin", lang="zh")
    assert "登录失败" in visible_text(zh.get("/admin/audit"))


def test_my_new_token_is_shown_once_and_works_until_i_revoke_it(app, web):
    hr = web("hr")
    hr.get("/account")
    hr.post("/account/tokens", {"name": "reports", "scopes": ["read"], "days": "30"})
    page = text(hr.get("/account"))
    token = re.search(r'<code id="new-token">([^<]+)</code>', page).group(1)
    assert 'id="new-token"' not in text(hr.get("/account"))  # never again
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/instances", headers=headers).status_code == 200
    token_id = re.search(r'data-token="(\d+)"><td>reports', page).group(1)
    hr.post(f"/account/tokens/{token_id}/revoke")
    assert api.get("/api/v1/instances", headers=headers).status_code == 401


def test_i_change_my_password_and_sign_in_with_the_new_one(app, web):
    hr = web("hr")
    hr.get("/account")
    passwords = {"current_password": "nope", "new_password": STRONG, "confirm_password": STRONG}
    wrong = hr.post("/account/password", passwords, follow_redirects=True)
    assert "Wrong password." in visible_text(wrong)
    hr.get("/account")
    done = hr.post("/account/password", {"current_password": "demo", "new_password": STRONG,
                                         "confirm_password": STRONG})  # fmt: skip
    assert done.headers["Location"] == "/login"
    assert hr.get("/catalog").status_code == 302  # the session ended with the old password
    Web(app).login("hr", STRONG)


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01&until=0001-01-01"])
def test_audit_dates_at_the_ends_of_the_calendar_are_no_500(web, query):
    assert web("admin").get(f"/admin/audit?{query}").status_code == 200


def test_an_admin_makes_a_role_on_the_roles_page_and_gives_it(app, web):
    admin = web("admin", lang="zh")
    admin.get("/admin/roles")
    made = admin.post("/admin/roles", {"key": "hr_partner", "name_en": "HR partner",
                                       "name_zh": "HR 伙伴",
                                       "capabilities": ["see_all_requests"]},
                      follow_redirects=True)  # fmt: skip
    body = visible_text(made)
    assert "已创建角色 hr_partner。" in body and "HR 伙伴" in body
    assert "查看所有申请（有部门的只看本部门）" in body
    hr = web("hr")
    assert hr.get("/console/failed").status_code == 403
    admin.get("/admin/users")
    admin.post("/admin/users/hr", {"display_name": "Hannah HR", "department": "hr",
                                   "roles": ["hr_partner", "approver"],
                                   "groups": ["hr"]})  # fmt: skip
    with app.app_context():
        row = identity_reads.user_by_username("hr")
        assert (row.roles, row.department) == ("requester,approver,hr_partner", "hr")
        db.session.remove()
    assert 'data-role="hr_partner"' in text(admin.get("/admin/roles"))
    held = admin.post("/admin/roles/hr_partner/delete", follow_redirects=True)
    assert "仍有用户拥有此角色" in visible_text(held)
    built_in = admin.post("/admin/roles/admin", {"name_en": "x"}, follow_redirects=True)
    assert "内置角色不能修改或删除。" in visible_text(built_in)
    admin.post("/admin/roles/hr_partner", {"name_en": "HR partner", "name_zh": "HR 伙伴",
                                           "capabilities": ["view_diagrams"]})  # fmt: skip
    assert "hr_partner" in text(admin.get("/admin/roles"))
    admin.post("/admin/users/hr", {"display_name": "Hannah HR", "roles": [], "groups": ["hr"]})
    admin.post("/admin/roles/hr_partner/delete")
    assert 'data-role="hr_partner"' not in text(admin.get("/admin/roles"))


def test_the_last_admin_cannot_lock_themselves_out_from_the_page(app, web):
    admin = web("admin")
    admin.get("/admin/users")
    refused = admin.post("/admin/users/admin", {"display_name": "Adam Admin", "roles": [],
                                                "groups": []}, follow_redirects=True)  # fmt: skip
    assert "At least one active administrator must remain" in visible_text(refused)
    with app.app_context():
        assert identity_reads.user_by_username("admin").role_set == {"requester", "admin"}
        db.session.remove()
    admin.post("/admin/groups/hr", {"name_en": "People", "name_zh": "人事"})
    assert "People" in visible_text(admin.get("/admin/groups"))
