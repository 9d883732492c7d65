"""A requester sees only their own requests; pages check roles; nothing leaks by URL."""

import pytest
from sqlalchemy import select

from engine.db import db
from engine.instances.models import InstanceComment, ProcessInstance
from tests.web.support import ONBOARDING, STORE, instance, open_task


@pytest.fixture
def hr_request(web):
    return web("hr").start("new_hire_onboarding", ONBOARDING)


def test_requester_cannot_open_another_requesters_request(web, hr_request):
    assert web("requester").get(f"/requests/{hr_request}").status_code == 404


def test_requester_cannot_open_a_task_of_another_request(app, web, hr_request):
    task_id = open_task(app, hr_request, "manager_approval")
    client = web("requester")
    assert client.get(f"/inbox/tasks/{task_id}").status_code == 403
    response = client.post(f"/inbox/tasks/{task_id}", {"manager_approved": "true"})
    assert response.status_code == 403
    assert client.post(f"/inbox/tasks/{task_id}/claim").status_code == 403
    assert instance(app, hr_request).status == "user_input_required"


def test_requester_cannot_cancel_or_comment_on_another_request(app, web, hr_request):
    client = web("requester")
    assert client.post(f"/requests/{hr_request}/cancel", {"reason": "x"}).status_code == 404
    assert client.post(f"/requests/{hr_request}/comments", {"body": "hi"}).status_code == 404
    assert instance(app, hr_request).status == "user_input_required"
    with app.app_context():
        assert db.session.scalar(select(InstanceComment.id)) is None


def test_unknown_request_and_task_are_404(web):
    client = web("hr")
    assert client.get("/requests/999").status_code == 404
    assert client.get("/inbox/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


def test_requester_sees_their_own_request_and_the_approver_theirs(web, hr_request):
    assert web("hr").get(f"/requests/{hr_request}").status_code == 200
    assert web("manager").get(f"/requests/{hr_request}").status_code == 200  # works on it


def test_my_requests_lists_only_my_own(web, hr_request):
    store = web("requester").start("store_opening_it_readiness", STORE)
    page = web("requester").get("/requests").get_data(as_text=True)
    assert f"/requests/{store}" in page and f"/requests/{hr_request}" not in page


def test_instance_page_is_for_handlers_only(web, hr_request):
    assert web("requester").get(f"/console/requests/{hr_request}").status_code == 403
    assert web("hr").get(f"/console/requests/{hr_request}").status_code == 403
    assert web("it_agent").get(f"/console/requests/{hr_request}").status_code == 200
    xml = web("it_agent").get(f"/console/requests/{hr_request}/diagram.bpmn")
    assert xml.mimetype == "application/xml" and b'id="new_hire_onboarding"' in xml.data


def test_failed_steps_page_is_for_agents_and_admins_as_in_the_api(web):
    # one rule (engine.identity.roles.handles_failed_steps) for the web and the API
    for username in ("hr", "manager", "designer", "requester"):
        assert web(username).get("/console/failed").status_code == 403, username
    assert web("it_agent").get("/console/failed").status_code == 200
    assert web("admin").get("/console/failed").status_code == 200


def test_a_request_nobody_else_works_on_stays_hidden_from_other_agents_groups(app, web):
    store = web("requester").start("store_opening_it_readiness", STORE)
    assert web("hr").get(f"/requests/{store}").status_code == 404
    with app.app_context():
        assert db.session.get(ProcessInstance, store).requested_by.username == "requester"
