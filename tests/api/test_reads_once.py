"""A unit of work reads what it needs once, under the write lock, and still reads it fresh.

Rows that a request reads when it authenticates (the caller, their groups) and rows that never
change (process versions) stay loaded when the unit of work takes the write lock; everything else
is read again. A unit that changes a user reads that user again, so a count kept on the user
row (wrong passwords) is never lost to a stale read.
"""

from collections import Counter

from sqlalchemy import event, select, update

from engine.db import db
from engine.identity import reads as identity_reads
from engine.identity import service as identity
from engine.identity.models import User
from engine.instances import store
from tests.api.support import complete_ok, open_task, start_onboarding


def _selects(app, action) -> Counter:
    """SELECTs by table while `action` runs."""
    seen = Counter()

    def count(_conn, _cursor, statement, *_args):
        words = statement.split()
        if words and words[0] == "SELECT" and "FROM" in words:
            seen[words[words.index("FROM") + 1]] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def test_completing_a_step_reads_the_task_the_request_and_the_caller_once(app, as_user):
    instance = start_onboarding(as_user("hr"))
    task = open_task(instance, "manager_approval")
    manager = as_user("manager")
    manager.get("/api/v1/me")  # the token's hourly use is recorded now, not below
    seen = _selects(app, lambda: complete_ok(manager, task["task_id"], {"manager_approved": True}))
    assert seen["user_account"] <= 1, seen  # the requester, for the answer; the caller joins
    assert seen["api_token"] == 1, seen  # ... the token's statement
    assert seen["process_instance"] == 1, seen  # locked once, under the write lock
    assert seen["process_version"] == 1, seen


def test_a_wrong_password_counts_even_when_the_user_was_read_before_another_count(app):
    policy = identity.SignInPolicy(lock_after=5)
    with app.app_context():
        before = identity_reads.user_by_username("hr").failed_sign_ins  # loaded in this session
        with db.engine.begin() as other:  # meanwhile another process counts two wrong passwords
            other.execute(update(User).where(User.username == "hr").values(failed_sign_ins=2))
        assert identity.sign_in("hr", "wrong password", source=None, policy=policy) is None
        db.session.remove()
        counted = db.session.scalar(select(User.failed_sign_ins).filter_by(username="hr"))
        db.session.remove()
    assert (before, counted) == (0, 3)


def test_reading_a_request_never_deserializes_its_workflow(app, as_user, monkeypatch):
    hr = as_user("hr")
    instance = start_onboarding(hr)

    def refuse(_instance):
        raise AssertionError("a read deserialized the workflow")

    monkeypatch.setattr(store, "load_workflow", refuse)
    answer = hr.get(f"/api/v1/instances/{instance['id']}")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["data"]["username"] == instance["data"]["username"]
    assert body["data"] == instance["data"]  # as the start answered it


def test_the_answer_shows_the_steps_its_save_left_open_as_a_later_read_does(app, as_user):
    hr, manager = as_user("hr"), as_user("manager")
    instance = start_onboarding(hr)
    assert [t["bpmn_id"] for t in instance["open_tasks"]] == ["manager_approval"]
    assert instance["open_tasks"] == hr.get(f"/api/v1/instances/{instance['id']}").get_json()[
        "open_tasks"]  # fmt: skip
    task = open_task(instance, "manager_approval")
    manager.get("/api/v1/me")
    answer = {}
    seen = _selects(app, lambda: answer.update(
        complete_ok(manager, task["task_id"], {"manager_approved": True})))  # fmt: skip
    assert answer["open_tasks"] == hr.get(f"/api/v1/instances/{instance['id']}").get_json()[
        "open_tasks"]  # fmt: skip
    assert seen["human_task"] <= 3, seen  # the task, the open rows before the save; not after


def test_a_long_poll_is_woken_by_the_commit_that_changes_its_request(app, as_user):
    hr, manager = as_user("hr"), as_user("manager")
    instance = start_onboarding(hr)
    changes = app.extensions["flowdesk"].changes
    with changes.watching(instance["id"]) as changed, changes.watching(-1) as other:
        assert not changed.is_set()
        task = open_task(instance, "manager_approval")
        complete_ok(manager, task["task_id"], {"manager_approved": True})
        assert changed.is_set() and not other.is_set()
    url = f"/api/v1/instances/{instance['id']}"
    now = hr.get(url).get_json()
    assert now["revision"] > instance["revision"]
    behind = hr.get(f"{url}?revision={instance['revision']}&wait=30").get_json()
    assert behind["revision"] == now["revision"]  # changed since: answered at once
    same = hr.get(f"{url}?revision={now['revision']}&wait=0.2")
    assert same.status_code == 200 and same.get_json()["revision"] == now["revision"]
    for bad in ("wait=31", "wait=-1", "wait=nan", "revision=-3&wait=1", "revision=x"):
        assert hr.get(f"{url}?{bad}").status_code == 422, bad
    assert as_user("requester").get(f"{url}?revision=1&wait=1").status_code == 404
