"""Sign-in under attack: lock-out after wrong passwords, a rate limit per address, and sessions
that end on the server when the user signs out."""

from markupsafe import escape

from tests.servers import free_port
from tests.web.support import Web, open_task, text, visible_text

ONBOARDING_OBRIEN = {
    "first_name": "Sean",
    "last_name": "O'Brien & Sons",
    "username": "sean.obrien",
    "personal_email": "sean@example.com",
    "department": "engineering",
    "role": "Engineer",
    "start_date": "2099-06-01",
    "employment_type": "employee",
    "location": "shanghai",
}


def _try(client: Web, username: str, password: str):
    client.get("/login")
    return client.post("/login", {"username": username, "password": password})


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(app):
    client = Web(app)
    for _ in range(5):
        assert _try(client, "hr", "wrong").status_code == 401
    locked = _try(client, "hr", "demo")
    assert locked.status_code == 401 and "Wrong username or password." in visible_text(locked)
    assert _try(Web(app), "manager", "demo").status_code == 302  # others are not locked


def test_a_signed_out_session_cookie_no_longer_signs_in(app, web):
    hr = web("hr")
    stolen = hr.client.get_cookie("session").value
    assert hr.get("/requests").status_code == 200
    hr.get("/catalog")
    hr.post("/logout")

    replay = app.test_client()
    replay.set_cookie("session", stolen)

    assert replay.get("/requests").status_code == 302  # to the sign-in page
    assert "/login" in replay.get("/requests").location


def test_failed_sign_ins_are_rate_limited_per_address(app):
    app.config["SIGN_IN_LOCK_AFTER"] = 10**6  # this test is about the limit, not the lock
    client = Web(app)
    answers = [_try(client, f"nobody{n}", "wrong").status_code for n in range(25)]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}


def test_api_calls_with_wrong_tokens_are_rate_limited_per_address(app):
    client = app.test_client()
    answers = [
        client.get("/api/v1/me", headers={"Authorization": f"Bearer bad-{n}"}).status_code
        for n in range(65)
    ]
    assert answers[:60] == [401] * 60 and answers[-1] == 429
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer demo-hr"}).status_code == 429


def test_instructions_are_escaped_once(app, web):
    instance_id = web("hr").start("new_hire_onboarding", ONBOARDING_OBRIEN)
    task = open_task(app, instance_id, "manager_approval")

    page = text(web("manager").get(f"/inbox/tasks/{task}"))

    assert escape("Sean O'Brien & Sons") in page
    assert "&amp;amp;" not in page and "&amp;#39;" not in page


def test_rate_limits_hold_and_nothing_fails_while_their_redis_is_down(make_app):
    app = make_app(RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    app.config["SIGN_IN_LOCK_AFTER"] = 10**6
    client = Web(app)
    answers = [_try(client, f"nobody{n}", "wrong").status_code for n in range(22)]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}  # counted in memory
    hr = app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer demo-hr"})
    assert hr.status_code == 200 and hr.json["username"] == "hr"
