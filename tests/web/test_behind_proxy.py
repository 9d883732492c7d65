"""Behind a TLS-terminating reverse proxy: forwarded headers are believed only from the configured
number of hops, cookies are Secure, and answers over HTTPS carry HSTS."""

import pytest

from tests.web.support import Web


def _wrong_sign_ins(app, forwarded_for: str, times: int) -> list[int]:
    client = Web(app)
    client.get("/login")
    headers = {"X-Forwarded-For": forwarded_for}
    return [
        client.post("/login", {"username": "nobody", "password": "x"}, headers=headers).status_code
        for _ in range(times)
    ]


def test_without_proxy_hops_a_forged_forwarded_for_does_not_dodge_the_rate_limit(make_app):
    app = make_app(SIGN_IN_LOCK_AFTER=10**6)
    answers = [_wrong_sign_ins(app, f"10.0.0.{n}", 1)[0] for n in range(22)]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}


def test_with_one_hop_each_client_address_is_limited_on_its_own(make_app):
    app = make_app(SIGN_IN_LOCK_AFTER=10**6, PROXY_HOPS=1)
    assert _wrong_sign_ins(app, "203.0.113.7", 21)[-1] == 429
    assert _wrong_sign_ins(app, "203.0.113.8", 1) == [401]  # another client behind the proxy
    # a client's own X-Forwarded-For before the proxy's is not believed: the proxy's entry counts
    assert _wrong_sign_ins(app, "198.51.100.1, 203.0.113.7", 1) == [429]


def test_forwarded_proto_host_and_prefix_shape_redirects_and_hsts(make_app):
    app = make_app(PROXY_HOPS=1)
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "desk.example.com",
        "X-Forwarded-Prefix": "/flowdesk",
    }
    answer = app.test_client().get("/requests", headers=forwarded)
    assert answer.status_code == 302
    assert answer.location.startswith("/flowdesk/login")
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    api = app.test_client().get("/api/v1/health", headers=forwarded)
    assert api.headers["Strict-Transport-Security"] == "max-age=31536000"

    plain = app.test_client().get("/requests")
    assert "Strict-Transport-Security" not in plain.headers  # not over plain HTTP

    spoofed = make_app().test_client().get("/requests", headers=forwarded)  # no hops configured
    assert "Strict-Transport-Security" not in spoofed.headers
    assert spoofed.location.startswith("/login")


def test_hsts_can_be_switched_off(make_app):
    answer = (
        make_app(PROXY_HOPS=1, HSTS_SECONDS=0)
        .test_client()
        .get("/login", headers={"X-Forwarded-Proto": "https"})
    )
    assert answer.status_code == 200 and "Strict-Transport-Security" not in answer.headers


@pytest.mark.parametrize(
    ("setting", "secure"),
    [("auto", False), ("true", True), (True, True), ("false", False), (False, False)],
)
def test_session_cookies_are_secure_when_configured(make_app, setting, secure):
    app = make_app(SECURE_COOKIES=setting)  # TESTING: auto means not Secure
    answer = Web(app).post("/login", {"username": "hr", "password": "demo"})
    assert answer.status_code == 302
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert ("; Secure" in cookie) is secure
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_are_the_default_outside_demo_and_testing(make_app):
    app = make_app(TESTING=False, SECRET_KEY="x" * 40)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"PROXY_HOPS": "two"}, "FLOWDESK_PROXY_HOPS must be a whole number"),
        ({"PROXY_HOPS": -1}, "FLOWDESK_PROXY_HOPS must not be negative"),
        ({"SECURE_COOKIES": "sometimes"}, "FLOWDESK_SECURE_COOKIES must be auto, true or false"),
    ],
)
def test_bad_proxy_settings_stop_start_up_with_the_reason(make_app, setting, message):
    with pytest.raises(ValueError, match=message):
        make_app(**setting)
