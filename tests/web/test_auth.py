"""Sign in and out, CSRF refusal, cookies and security headers, the language switch."""

from sqlalchemy import select

from engine.db import db
from engine.identity.models import User
from engine.instances.models import ProcessInstance
from tests.web.support import ONBOARDING, Web, text, visible_text


def test_pages_need_a_signed_in_user(web):
    response = web().get("/catalog")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_wrong_password_is_refused_with_a_message(web):
    client = web()
    client.get("/login")
    response = client.post("/login", {"username": "hr", "password": "wrong"})
    assert response.status_code == 401
    assert "Wrong username or password." in visible_text(response)
    assert client.get("/catalog").status_code == 302


def test_unknown_user_gets_the_same_message(web):
    client = web()
    client.get("/login")
    response = client.post("/login", {"username": "nobody", "password": "demo"})
    assert response.status_code == 401
    assert "Wrong username or password." in visible_text(response)


def test_login_then_logout(web):
    client = web("hr")
    assert client.get("/catalog").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/catalog").status_code == 302


def test_login_follows_only_local_next_urls(web):
    client = web()
    client.get("/login")
    response = client.post("/login?next=//evil.example/x", {"username": "hr", "password": "demo"})
    assert response.headers["Location"] == "/catalog"
    client = web()
    client.get("/login")
    response = client.post("/login?next=/requests", {"username": "hr", "password": "demo"})
    assert response.headers["Location"] == "/requests"


def test_post_without_csrf_token_is_refused_and_changes_nothing(app, web):
    client = web("hr")
    client.get("/services/new_hire_onboarding")
    response = client.post("/services/new_hire_onboarding", ONBOARDING, csrf=False)
    assert response.status_code == 400
    assert "This form has expired" in visible_text(response)
    with app.app_context():
        assert db.session.scalar(select(ProcessInstance.id)) is None


def test_post_with_a_wrong_csrf_token_is_refused(web):
    client = web("hr")
    response = client.post("/logout", {"csrf_token": "forged"}, csrf=False)
    assert response.status_code == 400
    assert client.get("/catalog").status_code == 200  # still signed in


def test_login_form_needs_a_csrf_token_too(web):
    response = web().post("/login", {"username": "hr", "password": "demo"}, csrf=False)
    assert response.status_code == 400


def test_api_is_exempt_from_csrf_and_uses_bearer_tokens(client_of):
    response = client_of.post(
        "/api/v1/instances",
        json={"offering": "new_hire_onboarding", "data": ONBOARDING},
        headers={"Authorization": "Bearer demo-hr"},
    )
    assert response.status_code == 201


def test_session_cookie_is_http_only_and_same_site(web):
    client = web()
    client.get("/login")
    response = client.post("/login", {"username": "hr", "password": "demo"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookies_are_secure_outside_demo_and_testing(tmp_path):
    from api.app import create_app

    app = create_app({"SECRET_KEY": "x" * 32, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_pages_send_a_strict_content_security_policy(web):
    response = web("hr").get("/catalog")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(web):
    client = web("hr")
    for url in ("/catalog", "/services/new_hire_onboarding", "/requests", "/inbox", "/login"):
        html = text(client.get(url))
        assert "style=" not in html, url
        for script in html.split("<script")[1:]:
            assert script.split(">", 1)[0].strip().startswith(("src=", 'type="application/json"'))


def test_language_switch_is_remembered_on_the_user(app, web):
    client = web("hr", lang=None)
    assert '<html lang="en">' in text(client.get("/catalog"))
    response = client.post("/language", {"lang": "zh", "next": "/requests"})
    assert response.headers["Location"] == "/requests"
    page = client.get("/catalog")
    assert '<html lang="zh-CN">' in text(page)
    assert "今天需要什么服务？" in visible_text(page)
    with app.app_context():
        assert db.session.scalar(select(User.locale).filter_by(username="hr")) == "zh"
    again = web("hr", lang=None)  # a new session picks the user's language
    assert '<html lang="zh-CN">' in text(again.get("/catalog"))


def test_unknown_language_is_refused(web):
    assert web("hr").post("/language", {"lang": "fr"}).status_code == 400


def test_anonymous_language_follows_the_browser_then_the_switch(web):
    client = web(lang=None)
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in text(page) and "登录" in visible_text(page)
    client.post("/language", {"lang": "en"})
    assert '<html lang="en">' in text(client.get("/login", headers={"Accept-Language": "zh-CN"}))


def test_unknown_pages_are_html_for_people_and_json_for_the_api(app):
    client = Web(app)
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = client.get("/api/v1/no-such-thing", headers={"Authorization": "Bearer demo-hr"})
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
