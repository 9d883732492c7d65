"""The web's forms refuse bad data at submit, with a message beside the field, in both languages;
a request and its steps read in Chinese; an agent corrects a failed step's data."""

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.automation import service as automation
from engine.automation.service import RetryPolicy
from engine.db import db
from engine.directory.models import DirectoryAccount
from engine.instances.models import Job, ProcessInstance
from tests.web.support import (
    ONBOARDING,
    drain,
    field_error,
    instance,
    open_task,
    text,
    visible_text,
)


def _count(app) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count()).select_from(ProcessInstance))
        db.session.remove()
    return found


def _take(app, username: str) -> None:
    with app.app_context():
        db.session.add(DirectoryAccount(username=username, full_name="Taken", email="t@x.cn"))
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize(
    ("lang", "changes", "field", "message"),
    [
        ("en", {"start_date": "2020-01-01"}, "start_date", "or later"),
        ("zh", {"start_date": "2020-01-01"}, "start_date", "或之后的日期"),
        ("en", {"personal_email": "grace@"}, "personal_email", "Enter a valid email address."),
        ("zh", {"personal_email": "grace@"}, "personal_email", "请输入有效的邮箱地址。"),
        ("en", {"username": "taken.one"}, "username", "already taken in the directory"),
        ("zh", {"username": "taken.one"}, "username", "该用户名在目录中已被占用。"),
    ],
)
def test_bad_data_is_refused_at_submit_beside_its_field(app, web, lang, changes, field, message):
    _take(app, "taken.one")
    hr = web("hr", lang=lang)
    hr.get("/services/new_hire_onboarding")

    response = hr.post("/services/new_hire_onboarding", {**ONBOARDING, **changes})

    assert response.status_code == 422
    assert message in field_error(response, field)
    assert _count(app) == 0


def test_the_date_field_tells_the_browser_its_first_day(web):
    page = text(web("hr").get("/services/new_hire_onboarding"))

    assert f'min="{clock.today().isoformat()}"' in page


def test_today_is_accepted(app, web):
    hr = web("hr")
    hr.start("new_hire_onboarding", {**ONBOARDING, "start_date": clock.today().isoformat()})
    assert _count(app) == 1


def test_a_request_reads_in_chinese(app, web):
    instance_id = web("hr").start(
        "new_hire_onboarding", {**ONBOARDING, "department": "finance", "location": "chengdu"}
    )
    manager = web("manager", lang="zh")
    task = open_task(app, instance_id, "manager_approval")

    page = visible_text(manager.get(f"/inbox/tasks/{task}"))
    diagram = text(manager.get(f"/console/requests/{instance_id}/diagram.bpmn"))

    assert "入职：Zhang Wei（2099-06-01）" in page
    assert (
        "请审批 Zhang Wei（Backend engineer，财务）的入职申请：2099-06-01 入职，工作地点 成都。"
        in page
    )
    assert 'name="审批新员工入职"' in diagram and 'name="开通账号"' in diagram
    assert 'name="部门经理"' in diagram and 'name="驳回"' in diagram
    english = text(web("manager", lang="en").get(f"/console/requests/{instance_id}/diagram.bpmn"))
    assert 'name="Approve onboarding"' in english


def test_instructions_show_choices_by_their_labels_in_english(app, web):
    instance_id = web("hr").start(
        "new_hire_onboarding", {**ONBOARDING, "department": "finance", "location": "chengdu"}
    )
    task = open_task(app, instance_id, "manager_approval")

    page = visible_text(web("manager").get(f"/inbox/tasks/{task}"))

    assert "(Backend engineer, Finance), starting 2099-06-01 in Chengdu." in page


@pytest.fixture
def failed_account(app, web):
    """An onboarding whose username was taken after submit: its create_accounts step failed."""
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING)
    manager = web("manager")
    task = open_task(app, instance_id, "manager_approval")
    manager.get(f"/inbox/tasks/{task}")
    manager.post(f"/inbox/tasks/{task}", {"manager_approved": "true"})
    _take(app, "wei.zhang")
    with app.app_context():
        job_id = db.session.scalar(select(Job.id).filter_by(bpmn_id="create_accounts"))
        automation.begin_job(job_id, lease_seconds=60)
        automation.job_failed(
            job_id, "username_taken", traceback=None, transient=False, policy=RetryPolicy()
        )
        db.session.remove()
    app.extensions["flowdesk"].dispatch.job_ids.remove(job_id)
    return instance_id, job_id


def test_an_agent_corrects_the_data_a_failed_step_reads(app, web, failed_account):
    instance_id, job_id = failed_account
    agent = web("it_agent")
    page = agent.get("/console/failed")
    assert 'name="data.username" value="wei.zhang"' in text(page)
    assert "Create accounts" in visible_text(page)

    taken = agent.post(f"/console/jobs/{job_id}/correct", {"data.username": "wei.zhang"})
    assert "already taken" in visible_text(agent.get(taken.location))
    fixed = agent.post(f"/console/jobs/{job_id}/correct", {"data.username": "wei.zhang2"})
    assert "The corrected step will run again" in visible_text(agent.get(fixed.location))

    drain(app)
    assert instance(app, instance_id).status == "user_input_required"  # the laptop step is open
    timeline = visible_text(web("hr").get(f"/requests/{instance_id}"))
    assert "Failed step corrected and retried" in timeline
