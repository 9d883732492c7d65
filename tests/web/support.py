"""A test client that behaves like a browser: session cookie, CSRF token, HTML reading."""

import re
from html import unescape

from sqlalchemy import select

from engine.db import db
from engine.instances.models import HumanTask, ProcessInstance
from workers import jobs

ONBOARDING = {
    "first_name": "Wei",
    "last_name": "Zhang",
    "username": "wei.zhang",
    "personal_email": "wei@example.com",
    "department": "engineering",
    "role": "Backend engineer",
    "start_date": "2099-06-01",
    "employment_type": "employee",
    "location": "shanghai",
}
STORE = {
    "store_id": "S0123",
    "store_name": "Chengdu Taikoo Li",
    "region": "west",
    "address": "1 Zhongshamao Street",
    "opening_date": "2099-06-01",
}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Web:
    """The Flask test client with a CSRF token picked up from the last page, like a browser."""

    def __init__(self, app):
        self.app, self.client, self.token = app, app.test_client(), None

    def get(self, url, **kwargs):
        response = self.client.get(url, **kwargs)
        found = _TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url, data=None, *, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kwargs)

    def login(self, username: str, password: str = "demo"):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.get("/catalog")
        return response

    def start(self, offering: str, data: dict):
        """Submit a start form; return the new request id."""
        self.get(f"/services/{offering}")
        response = self.post(f"/services/{offering}", data)
        assert response.status_code == 302, text(response)[:2000]
        return int(response.headers["Location"].rsplit("/", 1)[1])


def text(response) -> str:
    return response.get_data(as_text=True)


def visible_text(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", text(response), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def field_error(response, name: str) -> str:
    """The message shown beside a field (empty when none)."""
    html = text(response)
    marker = f'data-field="{name}"'
    assert marker in html, f"no field {name} on the page"
    block = html.split(marker, 1)[1].split('data-field="', 1)[0]
    match = re.search(r'<p class="field-error"[^>]*>(.*?)</p>', block, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split()) if match else ""


def input_value(response, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', text(response))
    return unescape(match.group(1)) if match else None


def open_task(app, instance_id: int, bpmn_id: str) -> str:
    with app.app_context():
        task = db.session.scalar(
            select(HumanTask).filter_by(instance_id=instance_id, bpmn_id=bpmn_id, state="open")
        )
        db.session.remove()
    assert task is not None, f"no open {bpmn_id} on {instance_id}"
    return task.task_id


def instance(app, instance_id: int) -> ProcessInstance:
    with app.app_context():
        row = db.session.get(ProcessInstance, instance_id)
        db.session.expunge(row)
        db.session.remove()
    return row


def drain(app) -> None:
    """Run every recorded job in-process, and the jobs those record, until none is new."""
    dispatch = app.extensions["flowdesk"].dispatch
    done = 0
    while done < len(dispatch.job_ids):
        with app.app_context():
            jobs.execute_job(dispatch.job_ids[done], config=app.config, dispatch=dispatch)
            db.session.remove()
        done += 1
