"""The long poll across processes: a reader of gunicorn waits on a request, an RQ worker moves
it on, and the worker's commit (published on Redis) ends the wait."""

import threading
import time

import pytest

from tests.stack import ONBOARDING_DATA, complete_task, start_instance

WAIT = 30  # seconds the reader offers to wait: returning before it means it was woken


@pytest.mark.integration
def test_a_long_poll_answers_when_a_worker_moves_the_request_on(stack):
    web, _server = stack.serve()
    hr, manager = web.as_user("hr"), web.as_user("manager")
    started = start_instance(hr, "new_hire_onboarding", ONBOARDING_DATA)
    approved = complete_task(manager, started, "manager_approval", {"manager_approved": True})
    # its account job waits for a worker: none runs yet
    answer = {}

    def poll():
        begun = time.monotonic()
        reply = hr.get(f"/api/v1/instances/{started['id']}?revision={approved['revision']}"
                       f"&wait={WAIT}")  # fmt: skip
        answer.update(reply=reply, seconds=time.monotonic() - begun)

    reader = threading.Thread(target=poll)
    reader.start()
    stack.start_worker()  # runs the account and VPN jobs, each a commit of the request
    reader.join(WAIT + 30)
    reply = answer["reply"]
    assert reply.status == 200, reply.text
    assert reply.body["revision"] > approved["revision"]
    assert answer["seconds"] < WAIT - 5, answer["seconds"]  # woken, not timed out


@pytest.mark.integration
def test_a_long_poll_on_an_unchanged_request_answers_it_as_it_is(stack):
    web, _server = stack.serve()
    hr = web.as_user("hr")
    started = start_instance(hr, "new_hire_onboarding", ONBOARDING_DATA)  # waits for approval
    reply = hr.get(f"/api/v1/instances/{started['id']}?revision={started['revision']}&wait=0.5")
    assert reply.status == 200 and reply.body["revision"] == started["revision"]
    for bad in ("wait=31", "wait=-1", "wait=abc", "revision=-3&wait=1", "revision=x"):
        refused = hr.get(f"/api/v1/instances/{started['id']}?{bad}")
        assert refused.status == 422, (bad, refused.text)
