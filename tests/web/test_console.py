"""Failed steps for admins: the failed job and its error, retry, skip, cancel."""

import pytest
from sqlalchemy import select

from engine.automation import service as automation
from engine.automation.service import RetryPolicy
from engine.catalog import service as catalog
from engine.db import db
from engine.identity.models import User
from engine.instances import service as instances
from engine.instances.models import Job
from tests.api.test_step_failures import CAUSES
from tests.web.support import ONBOARDING, drain, instance, open_task, text, visible_text


@pytest.fixture
def failed(app, web):
    """An onboarding whose create_accounts job failed for good: (instance id, job id)."""
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING)
    manager = web("manager")
    task = open_task(app, instance_id, "manager_approval")
    manager.get(f"/inbox/tasks/{task}")
    manager.post(f"/inbox/tasks/{task}", {"manager_approved": "true"})
    with app.app_context():
        job_id = db.session.scalar(select(Job.id).filter_by(bpmn_id="create_accounts"))
        automation.begin_job(job_id, lease_seconds=60)
        automation.job_failed(
            job_id,
            "ConnectionError: directory unreachable",
            traceback=None,
            transient=False,
            policy=RetryPolicy(max_attempts=1),
        )
        db.session.remove()
    app.extensions["flowdesk"].dispatch.job_ids.remove(job_id)
    assert instance(app, instance_id).status == "error"
    return instance_id, job_id


def test_failed_page_lists_the_failed_job_and_its_error(web, failed):
    instance_id, job_id = failed
    page = web("admin").get("/console/failed")
    body = visible_text(page)
    assert f"#{instance_id}" in body and "directory.create_account" in body
    assert "ConnectionError: directory unreachable" in body
    assert f"/console/jobs/{job_id}/retry" in text(page)


def test_requester_sees_a_plain_message_not_the_error(web, failed):
    instance_id, _job = failed
    body = visible_text(web("hr").get(f"/requests/{instance_id}"))
    assert "Something went wrong" in body and "ConnectionError" not in body


def test_retry_runs_the_step_again(app, web, failed):
    instance_id, job_id = failed
    admin = web("admin")
    admin.get("/console/failed")
    response = admin.post(f"/console/jobs/{job_id}/retry")
    assert response.status_code == 302
    drain(app)
    assert instance(app, instance_id).status == "user_input_required"  # laptop step still open
    page = admin.get("/console/failed")
    assert f"/console/jobs/{job_id}/retry" not in text(page)  # no longer failed
    assert f'data-job="{job_id}" data-state="done"' in text(page)  # and its result is shown


def test_skip_goes_on_with_the_given_result(app, web, failed):
    instance_id, job_id = failed
    admin = web("admin")
    admin.get("/console/failed")
    bad = admin.post(f"/console/jobs/{job_id}/skip", {"result": "[1, 2]"})
    assert "must be a JSON object" in visible_text(admin.get(bad.location))
    result = '{"created": true, "email": "wei@example.com", "username": "wei.zhang"}'
    done = admin.post(f"/console/jobs/{job_id}/skip", {"result": result})
    assert "The step was skipped" in visible_text(admin.get(done.location))
    with app.app_context():
        assert db.session.get(Job, job_id).status == "skipped"
        assert db.session.scalar(select(Job.status).filter_by(bpmn_id="grant_vpn")) == "queued"
        db.session.remove()
    assert instance(app, instance_id).status != "error"


def test_cancel_from_the_failed_page(app, web, failed):
    instance_id, _job = failed
    admin = web("admin")
    admin.get("/console/failed")
    admin.post(f"/console/requests/{instance_id}/cancel", {"reason": "Directory retired"})
    assert instance(app, instance_id).status == "cancelled"
    assert "No failed steps" in visible_text(admin.get("/console/failed"))


def test_only_agents_and_admins_retry(web, failed):
    _instance, job_id = failed
    assert web("manager").post(f"/console/jobs/{job_id}/retry").status_code == 403
    assert web("hr").post(f"/console/jobs/{job_id}/retry").status_code == 403


def test_failed_engine_step_is_listed_and_retried_from_the_page(app, web):
    with app.app_context():
        operations = app.extensions["flowdesk"].operations
        catalog.publish("faulty", {"faulty.bpmn": CAUSES["multi_instance_type_error"][0]},
                        user_id=None, operations=operations)  # fmt: skip
        requester = db.session.scalar(select(User).filter_by(username="requester"))
        instance_id = instances.start_instance("faulty", {}, user=requester, dispatch=None).id
        job_id = db.session.scalar(select(Job.id).filter_by(instance_id=instance_id))
        db.session.remove()
    admin = web("admin")

    page = visible_text(admin.get("/console/failed"))

    assert f"#{instance_id}" in page and "'int' object is not iterable" in page
    assert admin.post(f"/console/jobs/{job_id}/retry").status_code == 302
    assert instance(app, instance_id).status == "error"  # items is still a number


def test_an_agent_given_another_department_on_the_admin_page_no_longer_sees_its_failures(
    app, web, failed
):
    instance_id, job_id = failed  # an onboarding: the hr department's offering
    assert f"#{instance_id}" in visible_text(web("it_agent").get("/console/failed"))
    admin = web("admin")
    admin.get("/admin/users")
    saved = admin.post("/admin/users/it_agent", {
        "display_name": "Ivan IT", "email": "", "department": "it",
        "roles": ["agent"], "groups": ["it_support"]}, follow_redirects=True)  # fmt: skip
    assert "it_agent saved." in visible_text(saved)
    agent = web("it_agent")
    page = agent.get("/console/failed")
    assert page.status_code == 200 and f"#{instance_id}" not in visible_text(page)
    assert agent.post(f"/console/jobs/{job_id}/retry").status_code == 404
    assert f"#{instance_id}" in visible_text(web("hr_agent").get("/console/failed"))
