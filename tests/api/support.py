"""Helpers for the API tier: a token-carrying client, job draining, problem and row-count checks."""

from sqlalchemy import func, select

from engine.catalog.models import ProcessVersion
from engine.db import db
from engine.instances.models import HumanTask, InstanceEvent, Job, ProcessInstance
from workers import jobs

FUTURE_DATE = "2099-06-01"  # far enough ahead that no boundary timer fires during a test

ONBOARDING_DATA = {
    "first_name": "Wei",
    "last_name": "Zhang",
    "username": "wei.zhang",
    "personal_email": "wei@example.com",
    "department": "engineering",
    "role": "Backend engineer",
    "start_date": FUTURE_DATE,
    "employment_type": "employee",
    "location": "shanghai",
}
STORE_DATA = {
    "store_id": "S0123",
    "store_name": "Chengdu Taikoo Li",
    "region": "west",
    "address": "1 Zhongshamao Street, Jinjiang",
    "opening_date": FUTURE_DATE,
    "contact_phone": "+86 138 0013 8000",
}
APPROVE = {"manager_approved": True}
LAPTOP = {"asset_tag": "LT-004211", "laptop_model": "thinkpad_t14"}
PROBLEM_KEYS = ("type", "title", "status", "code", "detail")


class Api:
    """A test client that sends one user's bearer token with every request."""

    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def _headers(self, headers) -> dict:
        merged = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        merged.update(headers or {})
        return merged

    def get(self, url, headers=None, **kwargs):
        return self.client.get(url, headers=self._headers(headers), **kwargs)

    def post(self, url, headers=None, **kwargs):
        return self.client.post(url, headers=self._headers(headers), **kwargs)

    def delete(self, url, headers=None, **kwargs):
        return self.client.delete(url, headers=self._headers(headers), **kwargs)

    def patch(self, url, headers=None, **kwargs):
        return self.client.patch(url, headers=self._headers(headers), **kwargs)


def drain(app) -> list[int]:
    """Run every recorded job in-process, and the jobs those record, until none is new."""
    dispatch = app.extensions["flowdesk"].dispatch
    done: list[int] = []
    while len(done) < len(dispatch.job_ids):
        job_id = dispatch.job_ids[len(done)]
        with app.app_context():
            jobs.execute_job(job_id, config=app.config, dispatch=dispatch)
            db.session.remove()
        done.append(job_id)
    return done


def scalar(app, query):
    """Run one scalar query in its own app context."""
    with app.app_context():
        try:
            return db.session.scalar(query)
        finally:
            db.session.remove()


def row_counts(app) -> dict[str, int]:
    """Row counts of the tables that a refused request must leave alone."""
    models = (ProcessInstance, Job, InstanceEvent, HumanTask, ProcessVersion)
    return {
        model.__tablename__: scalar(app, select(func.count()).select_from(model))
        for model in models
    }


def task_state(app, task_id: str) -> tuple:
    """(state, assignee id, completed_by id) of a HumanTask row."""
    with app.app_context():
        task = db.session.scalar(select(HumanTask).filter_by(task_id=task_id))
        result = (task.state, task.assignee_id, task.completed_by_id)
        db.session.remove()
    return result


def instance_row(app, instance_id: int) -> tuple:
    """(status, optimistic-lock version, workflow_json) of an instance row."""
    with app.app_context():
        instance = db.session.get(ProcessInstance, instance_id)
        result = (instance.status, instance.version, instance.workflow_json)
        db.session.remove()
    return result


def assert_problem(response, status: int, code: str) -> dict:
    """Assert an RFC 9457 application/problem+json response; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    missing = [key for key in PROBLEM_KEYS if key not in body]
    assert not missing, f"problem without {missing}: {body}"
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"/problems/{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def start(api: Api, offering: str, data: dict):
    return api.post("/api/v1/instances", json={"offering": offering, "data": data})


def start_onboarding(api: Api, **overrides) -> dict:
    """Start an onboarding as the api's user; assert 201 and return the instance."""
    response = start(api, "new_hire_onboarding", {**ONBOARDING_DATA, **overrides})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def start_store_opening(api: Api, **overrides) -> dict:
    """Start a store opening as the api's user; assert 201 and return the instance."""
    response = start(api, "store_opening_it_readiness", {**STORE_DATA, **overrides})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def open_task(instance: dict, bpmn_id: str) -> dict:
    """The single open task with this BPMN id in an instance body."""
    found = [task for task in instance["open_tasks"] if task["bpmn_id"] == bpmn_id]
    assert len(found) == 1, instance["open_tasks"]
    return found[0]


def complete(api: Api, task_id: str, data: dict):
    return api.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data})


def complete_ok(api: Api, task_id: str, data: dict) -> dict:
    response = complete(api, task_id, data)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def get_instance(api: Api, instance_id: int) -> dict:
    response = api.get(f"/api/v1/instances/{instance_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def inbox(api: Api, **params) -> list[dict]:
    response = api.get("/api/v1/tasks", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]
