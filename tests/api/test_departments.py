"""Department scoping: an agent with a department handles only its offerings' requests.

New-hire onboarding belongs to HR and store opening to IT (their catalog metadata); the demo's
hr_agent is an HR agent, it_agent an agent without a department (the whole service desk).
"""

from sqlalchemy import func, select

from engine.audit.models import AuditEvent
from tests.api.support import (
    assert_problem,
    get_instance,
    instance_row,
    row_counts,
    scalar,
    start_onboarding,
    start_store_opening,
)
from tests.api.test_intake import _failed_create_accounts


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["flowdesk", *args])


def listed(api, **params) -> list[str]:
    response = api.get("/api/v1/instances", query_string={"scope": "all", **params})
    assert response.status_code == 200, response.get_json()
    return sorted(item["offering_key"] for item in response.get_json()["items"])


def two_requests(as_user) -> tuple[dict, dict]:
    return start_onboarding(as_user("hr")), start_store_opening(as_user("requester"))


def test_offerings_name_their_department(as_user):
    offerings = as_user("requester").get("/api/v1/offerings").get_json()
    departments = {o["key"]: o["department"] for o in offerings}
    assert departments == {"new_hire_onboarding": "hr", "store_opening_it_readiness": "it"}


def test_an_hr_agent_lists_and_opens_only_hr_requests(as_user):
    onboarding, store = two_requests(as_user)
    hr_agent = as_user("hr_agent")

    assert listed(hr_agent) == ["new_hire_onboarding"]
    assert listed(hr_agent, offering="store_opening_it_readiness") == []
    assert get_instance(hr_agent, onboarding["id"])["id"] == onboarding["id"]
    assert_problem(hr_agent.get(f"/api/v1/instances/{store['id']}"), 404, "not_found")
    assert_problem(hr_agent.get(f"/api/v1/instances/{store['id']}/events"), 404, "not_found")
    # an agent without a department is the whole service desk
    assert listed(as_user("it_agent")) == ["new_hire_onboarding", "store_opening_it_readiness"]
    assert listed(as_user("admin")) == ["new_hire_onboarding", "store_opening_it_readiness"]


def test_an_agent_cannot_cancel_or_comment_on_another_departments_request(app, as_user):
    _onboarding, store = two_requests(as_user)
    hr_agent = as_user("hr_agent")
    before, row_before = row_counts(app), instance_row(app, store["id"])

    url = f"/api/v1/instances/{store['id']}"
    assert_problem(hr_agent.post(f"{url}/cancel", json={"reason": "x"}), 404, "not_found")
    assert_problem(hr_agent.post(f"{url}/comments", json={"body": "x"}), 404, "not_found")

    assert row_counts(app) == before and instance_row(app, store["id"]) == row_before


def test_an_it_scoped_agent_sees_it_requests_only(app, as_user):
    onboarding, store = two_requests(as_user)
    result = cli(app, "set-department", "it_agent", "it")
    assert result.exit_code == 0, result.output

    it_agent = as_user("it_agent")
    assert listed(it_agent) == ["store_opening_it_readiness"]
    assert get_instance(it_agent, store["id"])["id"] == store["id"]
    # onboarding's laptop step is IT Support's: it_agent still sees a request it works on
    assert get_instance(as_user("hr"), onboarding["id"])["open_tasks"][0]["bpmn_id"] == (
        "manager_approval"
    )
    assert_problem(it_agent.get(f"/api/v1/instances/{onboarding['id']}"), 404, "not_found")


def test_failed_steps_of_another_department_are_neither_listed_nor_handled(app, as_user):
    assert cli(app, "set-department", "it_agent", "it").exit_code == 0
    _instance, job_id = _failed_create_accounts(app, as_user)  # an HR request's failed step
    it_agent, hr_agent = as_user("it_agent"), as_user("hr_agent")
    assert it_agent.get("/api/v1/failed-steps").get_json()["items"] == []
    assert [f["id"] for f in hr_agent.get("/api/v1/failed-steps").get_json()["items"]] == [job_id]
    before = row_counts(app)

    retried = it_agent.post("/api/v1/failed-steps/retry", json={"ids": [job_id]}).get_json()
    by_filter = it_agent.post(
        "/api/v1/failed-steps/retry", json={"filter": {"operation": "directory.create_account"}}
    ).get_json()
    corrected = it_agent.post(f"/api/v1/failed-steps/{job_id}/correct",
                              json={"changes": {"username": "wei.zhang2"}})  # fmt: skip

    assert [r["outcome"] for r in retried] == ["not_found"], retried
    assert by_filter == []
    assert_problem(corrected, 404, "not_found")
    assert row_counts(app) == before


def test_set_department_refuses_what_is_not_a_department_and_changes_nothing(app):
    events = select(func.count()).select_from(AuditEvent)
    before = scalar(app, events)
    for bad in ("HR", "h r", "x" * 81, "../it", "人力"):
        result = cli(app, "set-department", "hr_agent", bad)
        assert result.exit_code != 0 and "department key" in result.output, (bad, result.output)
    assert cli(app, "set-department", "nobody", "hr").exit_code != 0
    assert scalar(app, events) == before

    assert cli(app, "set-department", "hr_agent", "").exit_code == 0  # cleared: all departments
    assert scalar(app, events) == before + 1
