"""Catalog and search, the start form with errors beside fields, the timeline, cancel, comments."""

from engine.db import db
from tests.web.support import (
    ONBOARDING,
    drain,
    field_error,
    input_value,
    instance,
    open_task,
    text,
    visible_text,
)


def test_catalog_groups_services_by_business_scenario(web):
    page = visible_text(web("hr").get("/catalog"))
    assert "Onboarding & offboarding" in page and "Store operations" in page
    assert "New-hire IT onboarding" in page and "about 5 days" in page
    assert "New store opening IT readiness" in page and "about 2 weeks" in page


def test_catalog_in_chinese(web):
    page = visible_text(web("hr", lang="zh").get("/catalog"))
    assert "入职与离职" in page and "新员工 IT 入职" in page and "约 5 天" in page
    assert "门店运营" in page and "约 2 周" in page


def test_search_finds_by_name_keyword_and_other_language(web):
    client = web("hr")
    for query in ("onboarding", "laptop", "新员工", "VPN"):
        page = text(client.get(f"/catalog?q={query}"))
        assert "/services/new_hire_onboarding" in page, query
        assert "/services/store_opening_it_readiness" not in page, query
    assert "/services/" not in text(client.get("/catalog?q=nothing-like-this"))
    assert "No service matches your search" in visible_text(client.get("/catalog?q=zzz"))


def test_service_page_says_what_who_and_how_long(web):
    page = visible_text(web("hr").get("/services/store_opening_it_readiness"))
    assert "What you get" in page and "about 2 weeks" in page
    assert "IT Leads" in page and "Review store IT readiness plan" in page


def test_invalid_field_shows_a_message_beside_it_and_keeps_the_input(app, web):
    client = web("hr")
    client.get("/services/new_hire_onboarding")
    response = client.post(
        "/services/new_hire_onboarding",
        {**ONBOARDING, "username": "Wei Zhang", "personal_email": "not-an-email"},
    )
    assert response.status_code == 422
    assert field_error(response, "username") == "This does not match the expected format."
    assert field_error(response, "personal_email") == "Enter a valid email address."
    assert field_error(response, "first_name") == ""
    assert input_value(response, "username") == "Wei Zhang"
    assert input_value(response, "last_name") == "Zhang"
    assert 'value="engineering" selected' in text(response)
    assert 'value="employee" checked' in text(response)
    assert "Please correct 2 fields." in visible_text(response)


def test_missing_fields_are_required_in_both_languages(web):
    client = web("hr", lang="zh")
    client.get("/services/new_hire_onboarding")
    response = client.post("/services/new_hire_onboarding", {**ONBOARDING, "first_name": " "})
    assert field_error(response, "first_name") == "此项为必填项。"


def test_valid_form_starts_a_request_and_shows_its_timeline(app, web):
    client = web("hr")
    instance_id = client.start("new_hire_onboarding", ONBOARDING)
    page = client.get(f"/requests/{instance_id}")
    body = visible_text(page)
    assert "Your request has been submitted." in body
    assert "Request submitted" in body and "Hannah HR" in body
    assert "Approve new-hire onboarding" in body and "Waiting for Managers" in body
    assert "Coming next" in body and "Prepare laptop" in body and "IT Support" in body
    assert instance(app, instance_id).requested_by_id is not None


def test_my_requests_shows_status_and_who_holds_it(web):
    client = web("hr")
    client.start("new_hire_onboarding", ONBOARDING)
    page = visible_text(client.get("/requests"))
    assert "In progress" in page and "with Managers" in page


def test_requester_cancels_while_cancellable(app, web):
    client = web("hr")
    instance_id = client.start("new_hire_onboarding", ONBOARDING)
    response = client.post(f"/requests/{instance_id}/cancel", {"reason": "Candidate declined"})
    assert response.status_code == 302
    page = visible_text(client.get(f"/requests/{instance_id}"))
    assert "Cancelled by Hannah HR" in page and "Candidate declined" in page
    assert "Cancel request" not in page
    assert instance(app, instance_id).status == "cancelled"
    again = client.post(f"/requests/{instance_id}/cancel", {"reason": "again"})
    assert again.status_code == 409


def test_comments_from_requester_and_handler(web):
    hr = web("hr")
    instance_id = hr.start("new_hire_onboarding", ONBOARDING)
    hr.post(f"/requests/{instance_id}/comments", {"body": "Laptop with German keyboard <b>"})
    web("manager").post(f"/requests/{instance_id}/comments", {"body": "Noted."})
    page = hr.get(f"/requests/{instance_id}")
    assert "Laptop with German keyboard &lt;b&gt;" in text(page)
    assert "Noted." in visible_text(page) and "Mei Manager" in visible_text(page)
    empty = hr.post(f"/requests/{instance_id}/comments", {"body": "   "})
    assert empty.status_code == 302
    assert "Write a comment of 1 to 4000 characters." in visible_text(hr.get(empty.location))


def test_timeline_reaches_done_with_who_and_when(app, web):
    hr = web("hr")
    instance_id = hr.start("new_hire_onboarding", ONBOARDING)
    manager = web("manager")
    task = open_task(app, instance_id, "manager_approval")
    manager.get(f"/inbox/tasks/{task}")
    assert manager.post(f"/inbox/tasks/{task}", {"manager_approved": "true"}).status_code == 302
    drain(app)
    agent = web("it_agent")
    task = open_task(app, instance_id, "prepare_laptop")
    agent.get(f"/inbox/tasks/{task}")
    response = agent.post(
        f"/inbox/tasks/{task}", {"asset_tag": "LT-004211", "laptop_model": "thinkpad_t14"}
    )
    assert response.status_code == 302
    drain(app)
    page = hr.get(f"/requests/{instance_id}")
    body = visible_text(page)
    assert 'data-outcome="complete"' in text(page)
    assert "This request was completed on" in body
    assert "Mei Manager" in body and "Ivan IT" in body and "Approved" in body
    assert "Create accounts" in body and "Automatic" in body
    assert 'data-state="current"' not in text(page)


def test_details_use_the_forms_labels_and_option_names(web):
    client = web("hr", lang="zh")
    instance_id = client.start("new_hire_onboarding", ONBOARDING)
    body = visible_text(client.get(f"/requests/{instance_id}"))
    assert "工作地点 上海" in body and "用工类型 正式员工" in body


def test_db_is_untouched_by_a_refused_form(app, web):
    client = web("hr")
    client.get("/services/new_hire_onboarding")
    client.post("/services/new_hire_onboarding", {**ONBOARDING, "start_date": "tomorrow"})
    with app.app_context():
        assert db.session.execute(db.text("select count(*) from process_instance")).scalar() == 0
