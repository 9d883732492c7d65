"""Day-one defects of the web, each pinned: links, empty states, hints, ids, languages, titles."""

import re

import pytest
from sqlalchemy import select

from engine.automation import service as automation
from engine.automation.service import RetryPolicy
from engine.db import db
from engine.instances.models import Job
from tests.web.support import ONBOARDING, open_task, text, visible_text


def test_inbox_tabs_keep_the_filters_and_leak_no_template_names(app, web):
    web("hr").start("new_hire_onboarding", ONBOARDING)
    page = text(web("manager").get("/inbox?due=week&sort=new"))

    tabs = re.findall(r'<a href="(/inbox\?[^"]+)"', page)
    assert len(tabs) >= 3
    assert all("Macro" not in unquoted and "due=week" in unquoted for unquoted in tabs)


def test_a_search_that_finds_nothing_says_so_and_offers_to_clear_it(web):
    hr = web("hr")
    hr.start("new_hire_onboarding", ONBOARDING)

    body = visible_text(hr.get("/requests?q=nothing-like-this"))

    assert "No requests match “nothing-like-this”" in body and "No requests here yet" not in body
    assert 'href="/requests?state=all">' in text(hr.get("/requests?q=nothing-like-this"))


def test_the_rejection_hint_shows_once_and_a_closed_step_shows_its_decision(app, web):
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING)
    manager = web("manager")
    task = open_task(app, instance_id, "manager_approval")
    page = visible_text(manager.get(f"/inbox/tasks/{task}"))
    assert page.count("Required when you reject") == 1
    assert "Rejecting needs a comment" not in page

    manager.post(f"/inbox/tasks/{task}", {"manager_approved": "false", "manager_comment": "No"})
    closed = manager.get(f"/inbox/tasks/{task}")

    assert 'data-decision="rejected"' in text(closed)
    assert "Rejected" in visible_text(closed) and "No" in visible_text(closed)


@pytest.mark.parametrize(
    "url",
    [
        "/requests/9223372036854775808",
        "/requests/2147483648",
        "/requests/99999999999999999999999",
        "/console/requests/9223372036854775808",
        "/requests/1/files/9223372036854775808",
    ],
)
def test_a_request_number_too_long_for_the_database_is_not_found(web, url):
    web("hr").start("new_hire_onboarding", ONBOARDING)
    assert web("admin").get(url).status_code == 404


def test_the_language_picked_on_the_sign_in_page_wins_over_the_saved_one(web):
    client = web(lang=None)  # hr's saved language is English
    client.get("/login")
    client.post("/language", {"lang": "zh", "next": "/login"})
    client.login("hr")

    assert 'lang="zh-CN"' in text(client.get("/catalog"))
    again = web(lang=None)
    again.login("hr")  # picked once, kept
    assert 'lang="zh-CN"' in text(again.get("/catalog"))


def test_the_signed_out_page_speaks_the_users_language(web):
    manager = web("manager", lang="zh")
    manager.get("/catalog")
    out = manager.post("/logout")

    assert "您已退出登录。" in visible_text(manager.get(out.location))


def test_a_form_sent_back_with_errors_says_so_in_the_title(web):
    hr = web("hr")
    hr.get("/services/new_hire_onboarding")
    page = text(hr.post("/services/new_hire_onboarding", {"first_name": "Wei"}))

    assert re.search(r"<title>Error — New-hire IT onboarding", page)
    zh = web("hr", lang="zh")
    zh.get("/services/new_hire_onboarding")
    assert "<title>错误 — " in text(zh.post("/services/new_hire_onboarding", {"first_name": "W"}))


def test_a_skipped_step_shows_as_resolved_on_the_requesters_timeline(app, web):
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING)
    manager = web("manager")
    task = open_task(app, instance_id, "manager_approval")
    manager.get(f"/inbox/tasks/{task}")
    manager.post(f"/inbox/tasks/{task}", {"manager_approved": "true"})
    with app.app_context():
        job_id = db.session.scalar(select(Job.id).filter_by(bpmn_id="create_accounts"))
        automation.begin_job(job_id, lease_seconds=60)
        automation.job_failed(job_id, "down", traceback=None, transient=False,
                              policy=RetryPolicy())  # fmt: skip
        db.session.remove()
    hr = web("hr")
    assert 'data-state="error"' in text(hr.get(f"/requests/{instance_id}"))
    admin = web("admin")
    admin.get("/console/failed")
    admin.post(f"/console/jobs/{job_id}/skip", {"result": '{"email": "w@example.com"}'})

    page = hr.get(f"/requests/{instance_id}")

    assert 'data-state="error"' not in text(page)
    assert 'data-state="resolved"' in text(page) and "Failed step skipped" in visible_text(page)


def test_signed_in_people_browse_the_api_documentation(web, client_of):
    hr = web("hr")
    page = hr.get("/api/v1/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in text(page)
    bundle = hr.get("/assets/vendor/swagger/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    bundle.close()
    assert hr.get("/api/v1/openapi.json").get_json()["info"]["title"] == "FlowDesk API"
    assert client_of.get("/api/v1/docs").status_code == 401  # not signed in
