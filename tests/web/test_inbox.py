"""The inbox: counts, filters, claim, reassign, approve / reject with a comment, next step."""

from engine.db import db
from engine.instances.models import HumanTask
from tests.web.support import (
    ONBOARDING,
    STORE,
    drain,
    field_error,
    instance,
    open_task,
    text,
    visible_text,
)


def test_inbox_lists_group_tasks_with_counts(web):
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING)
    page = web("manager").get("/inbox")
    body = visible_text(page)
    assert "Approve new-hire onboarding" in body and f"#{instance_id}" in body
    assert "My groups 1" in body and "Assigned to me 0" in body


def test_inbox_filters_by_offering_due_and_search(web):
    web("hr").start("new_hire_onboarding", ONBOARDING)
    store = web("requester").start("store_opening_it_readiness", STORE)
    manager = web("manager")
    both = text(manager.get("/inbox"))
    assert 'data-task="manager_approval"' in both and 'data-task="plan_review"' in both
    only_store = text(manager.get("/inbox?offering=store_opening_it_readiness"))
    assert 'data-task="plan_review"' in only_store and "manager_approval" not in only_store
    by_number = text(manager.get(f"/inbox?q=%23{store}"))
    assert 'data-task="plan_review"' in by_number and "manager_approval" not in by_number
    assert "data-task=" not in text(manager.get("/inbox?due=overdue"))
    assert 'data-task="plan_review"' in text(manager.get("/inbox?due=week"))


def test_inbox_sorts_by_due_date_first(app, web):
    web("hr").start("new_hire_onboarding", ONBOARDING)
    web("requester").start("store_opening_it_readiness", STORE)
    with app.app_context():
        plan = db.session.query(HumanTask).filter_by(bpmn_id="plan_review").one()
        plan.due_at = plan.due_at.replace(year=2000)
        db.session.commit()
    page = text(web("manager").get("/inbox?sort=due"))
    assert page.index('data-task="plan_review"') < page.index('data-task="manager_approval"')
    newest = text(web("manager").get("/inbox?sort=new"))
    assert newest.index('data-task="plan_review"') < newest.index('data-task="manager_approval"')


def test_claim_unclaim_and_reassign(app, web):
    instance_id = web("requester").start("store_opening_it_readiness", STORE)
    manager = web("manager")
    task = open_task(app, instance_id, "plan_review")
    manager.get(f"/inbox/tasks/{task}")
    manager.post(f"/inbox/tasks/{task}/claim")
    page = visible_text(manager.get(f"/inbox/tasks/{task}"))
    assert "Assigned to Mei Manager" in page
    assert "Assigned to me 1" in visible_text(manager.get("/inbox"))
    manager.post(f"/inbox/tasks/{task}/unclaim")
    assert "Waiting in group IT Leads" in visible_text(manager.get(f"/inbox/tasks/{task}"))
    refused = manager.post(f"/inbox/tasks/{task}/reassign", {"assignee": "hr"})
    assert "Choose a member of the step" in visible_text(manager.get(refused.location))
    manager.post(f"/inbox/tasks/{task}/reassign", {"assignee": "manager"})
    with app.app_context():
        assert db.session.query(HumanTask).filter_by(task_id=task).one().assignee_id is not None


def test_someone_elses_claim_blocks_the_form(app, web):
    instance_id = web("requester").start("store_opening_it_readiness", STORE)
    plan = open_task(app, instance_id, "plan_review")
    manager = web("manager")
    manager.get(f"/inbox/tasks/{plan}")
    manager.post(f"/inbox/tasks/{plan}", {"plan_approved": "true"})
    drain(app)
    task = open_task(app, instance_id, "network_line")
    agent = web("it_agent")
    agent.get(f"/inbox/tasks/{task}")
    agent.post(f"/inbox/tasks/{task}/claim")
    admin_page = visible_text(web("admin").get(f"/inbox/tasks/{task}"))
    assert "Ivan IT is working on this step." in admin_page


def test_approval_form_has_approve_and_reject_buttons(app, web):
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING)
    task = open_task(app, instance_id, "manager_approval")
    page = text(web("manager").get(f"/inbox/tasks/{task}"))
    assert 'name="manager_approved" value="true"' in page
    assert 'name="manager_approved" value="false"' in page
    assert 'type="checkbox" id="f-manager_approved"' not in page


def test_reject_needs_a_reason_then_the_requester_sees_it(app, web):
    instance_id = web("requester").start("store_opening_it_readiness", STORE)
    task = open_task(app, instance_id, "plan_review")
    manager = web("manager")
    manager.get(f"/inbox/tasks/{task}")
    response = manager.post(f"/inbox/tasks/{task}", {"plan_approved": "false"})
    assert response.status_code == 422
    assert field_error(response, "plan_comment") == "Say why you reject the request."
    response = manager.post(
        f"/inbox/tasks/{task}", {"plan_approved": "false", "plan_comment": "Network freeze"}
    )
    assert response.status_code == 302 and response.location == "/inbox"
    drain(app)
    page = web("requester").get(f"/requests/{instance_id}")
    assert 'data-outcome="rejected"' in text(page)
    body = visible_text(page)
    assert "Rejected by Mei Manager" in body and "Reason: Network freeze" in body
    listing = visible_text(web("requester").get("/requests"))
    assert "Rejected" in listing


def test_approve_without_choosing_is_refused(app, web):
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING)
    task = open_task(app, instance_id, "manager_approval")
    manager = web("manager")
    manager.get(f"/inbox/tasks/{task}")
    response = manager.post(f"/inbox/tasks/{task}", {"manager_comment": "ok"})
    assert response.status_code == 422
    assert "Choose Approve or Reject." in visible_text(response)
    assert instance(app, instance_id).status == "user_input_required"


def test_after_completing_the_next_step_of_the_same_person_opens(app, web):
    instance_id = web("requester").start("store_opening_it_readiness", STORE)
    plan = open_task(app, instance_id, "plan_review")
    manager = web("manager")
    manager.get(f"/inbox/tasks/{plan}")
    manager.post(f"/inbox/tasks/{plan}", {"plan_approved": "true"})
    agent = web("it_agent")
    network = open_task(app, instance_id, "network_line")
    agent.get(f"/inbox/tasks/{network}")
    response = agent.post(
        f"/inbox/tasks/{network}",
        {"line_provider": "china_telecom", "line_id": "CT-1", "bandwidth_mbps": "500"},
    )
    assert response.status_code == 302
    assert response.location.startswith("/inbox/tasks/") and network not in response.location
    assert "The next step of this request is yours as well." in visible_text(
        agent.get(response.location)
    )


def test_integer_field_converts_posted_text(app, web):
    instance_id = web("requester").start("store_opening_it_readiness", STORE)
    plan = open_task(app, instance_id, "plan_review")
    manager = web("manager")
    manager.get(f"/inbox/tasks/{plan}")
    manager.post(f"/inbox/tasks/{plan}", {"plan_approved": "true"})
    agent = web("it_agent")
    cctv = open_task(app, instance_id, "cctv_setup")
    agent.get(f"/inbox/tasks/{cctv}")
    bad = agent.post(f"/inbox/tasks/{cctv}", {"cameras": "twelve", "recorder_serial": "X1"})
    assert bad.status_code == 422
    assert field_error(bad, "cameras") == "Enter a whole number."
    assert 'value="twelve"' in text(bad)
    low = agent.post(f"/inbox/tasks/{cctv}", {"cameras": "0", "recorder_serial": "X1"})
    assert field_error(low, "cameras") == "Must be at least 1."
    ok = agent.post(f"/inbox/tasks/{cctv}", {"cameras": "12", "recorder_serial": "X1"})
    assert ok.status_code == 302
