"""Bearer-token authentication, identity, the OpenAPI document and HTTP-level errors."""

import pytest
from sqlalchemy import update

from engine.db import db
from engine.identity.models import User
from tests.api.support import assert_problem


def assert_unauthorized(response) -> None:
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_me_without_authorization_header_is_401(client):
    assert_unauthorized(client.get("/api/v1/me"))


@pytest.mark.parametrize("header", ["Basic ZGVtbzpkZW1v", "demo-hr", "Bearer", "Bearer    "])
def test_me_with_wrong_scheme_or_empty_token_is_401(client, header):
    assert_unauthorized(client.get("/api/v1/me", headers={"Authorization": header}))


def test_me_with_unknown_token_is_401(as_user):
    assert_unauthorized(as_user("nobody", token="not-a-token").get("/api/v1/me"))


def test_me_with_token_of_deactivated_user_is_401(app, as_user):
    with app.app_context():
        db.session.execute(update(User).filter_by(username="hr").values(is_active=False))
        db.session.commit()
    assert_unauthorized(as_user("hr").get("/api/v1/me"))


def test_protected_endpoints_refuse_anonymous_requests(client):
    for url in ("/api/v1/offerings", "/api/v1/instances", "/api/v1/tasks", "/api/v1/processes"):
        assert_unauthorized(client.get(url))
    assert_unauthorized(client.post("/api/v1/instances", json={"offering": "x"}))


def test_health_needs_no_token(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_me_returns_roles_and_groups(as_user):
    response = as_user("it_agent").get("/api/v1/me")
    assert response.status_code == 200
    body = response.get_json()
    assert body["username"] == "it_agent"
    assert body["roles"] == ["agent", "requester"]
    assert body["groups"] == ["it_east", "it_north", "it_south", "it_support", "it_west"]


def test_scheme_is_case_insensitive(as_user):
    response = as_user("hr").get("/api/v1/me", headers={"Authorization": "bearer demo-hr"})
    assert response.status_code == 200
    assert response.get_json()["username"] == "hr"


def test_openapi_document_describes_the_api(as_user):
    response = as_user("requester").get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"]
    assert "/api/v1/instances" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/tasks/{task_id}/complete"]
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/instances"])
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert {"bearer": []} in spec["security"]


def test_unknown_route_is_404_problem(as_user):
    assert_problem(as_user("hr").get("/api/v1/no/such/route"), 404, "not_found")


def test_wrong_method_is_405_problem(as_user):
    assert_problem(as_user("hr").get("/api/v1/instances/1/cancel"), 405, "http_error")


def test_405_problem_keeps_the_allow_header(as_user):
    # RFC 9110 15.5.6: a 405 response MUST carry Allow; the problem handler must not drop it
    response = as_user("hr").get("/api/v1/instances/1/cancel")
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")


def test_body_larger_than_max_content_length_is_413_problem(app, as_user):
    body = b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}"
    response = as_user("hr").post("/api/v1/instances", data=body, content_type="application/json")
    assert_problem(response, 413, "invalid_input")


def test_security_headers_are_set(as_user):
    response = as_user("hr").get("/api/v1/me")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
