"""Requests: start with validated start-form data, visibility, listing and paging, cancel."""

import pytest

from tests.api.support import (
    ONBOARDING_DATA,
    STORE_DATA,
    assert_problem,
    get_instance,
    inbox,
    instance_row,
    open_task,
    row_counts,
    start,
    start_onboarding,
    start_store_opening,
)


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


def test_start_onboarding_as_hr_waits_for_manager_approval(app, as_user):
    response = start(as_user("hr"), "new_hire_onboarding", ONBOARDING_DATA)

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/instances/{body['id']}"
    assert body["status"] == "user_input_required"
    assert body["offering_key"] == "new_hire_onboarding"
    assert body["process_version"] == 1
    assert body["requested_by"] == "hr"
    task = open_task(body, "manager_approval")
    assert task["candidate_group"] == "managers"
    assert task["form_key"] == "new_hire_onboarding.manager_approval"
    assert task["assignee"] is None
    assert task["due_at"] is not None
    assert body["data"]["full_name"] == "Wei Zhang"  # the inline script task ran
    assert "events" not in body  # a state change answers without the history
    history = as_user("hr").get(f"/api/v1/instances/{body['id']}").get_json()["events"]
    assert [e["kind"] for e in history] == ["started"]
    assert app.extensions["flowdesk"].dispatch.job_ids == []  # no service task reached yet


def test_title_comes_from_the_offerings_title_template(as_user):
    # processes/new_hire_onboarding declares title_template "Onboarding {{ first_name }} ..."
    body = start_onboarding(as_user("hr"))
    assert body["title"] == "Onboarding Wei Zhang (2099-06-01)"


def test_start_with_title_and_business_key(as_user):
    response = as_user("hr").post(
        "/api/v1/instances",
        json={
            "offering": "new_hire_onboarding",
            "data": ONBOARDING_DATA,
            "title": "Onboard Wei",
            "business_key": "HR-2099-17",
        },
    )
    assert response.status_code == 201
    assert response.get_json()["title"] == "Onboard Wei"
    assert response.get_json()["business_key"] == "HR-2099-17"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**ONBOARDING_DATA, "username": "Wei Zhang"}, "username", "expected format"),
        ({**ONBOARDING_DATA, "username": "wz"}, "username", None),
        (without(ONBOARDING_DATA, "role"), "role", "required"),
        ({**ONBOARDING_DATA, "shoe_size": 42}, "shoe_size", "not part of the form"),
        ({**ONBOARDING_DATA, "first_name": 42}, "first_name", "Enter text"),
        ({**ONBOARDING_DATA, "start_date": "next monday"}, "start_date", "date"),
        ({**ONBOARDING_DATA, "personal_email": "not-an-email"}, "personal_email", "email"),
        ({**ONBOARDING_DATA, "employment_type": "intern"}, "employment_type", "options"),
        ({**ONBOARDING_DATA, "first_name": ""}, "first_name", "required"),
    ],
    ids=[
        "bad-username-pattern",
        "username-too-short",
        "missing-field",
        "unknown-field",
        "wrong-json-type",
        "bad-date",
        "bad-email",
        "bad-enum",
        "empty-string",
    ],
)
def test_invalid_start_data_is_422_with_field_errors_and_creates_nothing(
    app, as_user, data, field, message
):
    before = row_counts(app)

    response = start(as_user("hr"), "new_hire_onboarding", data)

    body = assert_problem(response, 422, "invalid_input")
    assert field in body["errors"], body
    if message:
        assert any(message in m for m in body["errors"][field]), body["errors"]
    assert row_counts(app) == before
    assert app.extensions["flowdesk"].dispatch.job_ids == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"offering": "new_hire_onboarding", "data": ["wei"]}, "data"),
        ({"offering": "new_hire_onboarding", "data": "wei"}, "data"),
        ({"offering": "new_hire_onboarding", "data": None}, "data"),
        ({"data": ONBOARDING_DATA}, "offering"),
        ({"offering": 7, "data": ONBOARDING_DATA}, "offering"),
        ({"offering": "new_hire_onboarding", "data": ONBOARDING_DATA, "extra": 1}, "extra"),
        ({"offering": "new_hire_onboarding", "data": ONBOARDING_DATA, "title": ""}, "title"),
        (["new_hire_onboarding"], "_schema"),
    ],
    ids=[
        "data-list",
        "data-string",
        "data-null",
        "no-offering",
        "offering-int",
        "unknown-top-level-field",
        "empty-title",
        "body-array",
    ],
)
def test_malformed_start_request_is_422_and_creates_nothing(app, as_user, payload, field):
    before = row_counts(app)

    response = as_user("hr").post("/api/v1/instances", json=payload)

    body = assert_problem(response, 422, "invalid_input")
    assert field in body["errors"], body
    assert row_counts(app) == before


def test_start_body_that_is_not_json_is_422_and_creates_nothing(app, as_user):
    before = row_counts(app)

    response = as_user("hr").post(
        "/api/v1/instances",
        data='{"offering": "new_hire_onboarding",',
        content_type="application/json",
    )

    assert_problem(response, 422, "invalid_input")
    assert row_counts(app) == before


def test_start_data_cannot_shadow_script_helpers(app, as_user):
    before = row_counts(app)
    response = start(as_user("hr"), "new_hire_onboarding", {**ONBOARDING_DATA, "days_before": 1})
    body = assert_problem(response, 422, "invalid_input")
    assert "days_before" in body["errors"]
    assert row_counts(app) == before


def test_start_unknown_offering_is_404_and_creates_nothing(app, as_user):
    before = row_counts(app)

    response = start(as_user("hr"), "no_such_offering", ONBOARDING_DATA)

    body = assert_problem(response, 404, "not_found")
    assert "no_such_offering" in body["detail"]
    assert row_counts(app) == before


# Visibility, listing, paging


def test_requester_cannot_read_someone_elses_instance(as_user):
    instance = start_onboarding(as_user("hr"))

    hidden = as_user("requester").get(f"/api/v1/instances/{instance['id']}")
    missing = as_user("requester").get("/api/v1/instances/99999")

    hidden_detail = assert_problem(hidden, 404, "not_found")["detail"]
    missing_detail = assert_problem(missing, 404, "not_found")["detail"]
    # the answer does not confirm that the instance exists
    assert hidden_detail.replace(str(instance["id"]), "N") == missing_detail.replace("99999", "N")


def test_instance_is_visible_to_requester_agent_and_candidate_group(as_user):
    instance = start_onboarding(as_user("hr"))

    for username in ("hr", "it_agent", "manager", "admin"):
        assert get_instance(as_user(username), instance["id"])["id"] == instance["id"]
    assert as_user("designer").get(f"/api/v1/instances/{instance['id']}").status_code == 404


def test_requester_cannot_list_all_instances(as_user):
    start_onboarding(as_user("hr"))

    assert_problem(as_user("requester").get("/api/v1/instances?scope=all"), 403, "forbidden")


def test_list_mine_shows_only_my_requests_newest_first(as_user):
    hr = as_user("hr")
    first = start_onboarding(hr)
    second = start_onboarding(hr, username="li.na")
    start_store_opening(as_user("requester"))

    response = hr.get("/api/v1/instances")

    assert response.status_code == 200
    body = response.get_json()
    assert [i["id"] for i in body["items"]] == [second["id"], first["id"]]
    assert body["total"] == 2
    assert body["page"] == 1 and body["page_size"] == 50
    assert {i["requested_by"] for i in body["items"]} == {"hr"}


def test_agent_lists_all_instances_with_paging_and_filters(as_user):
    hr, requester = as_user("hr"), as_user("requester")
    onboardings = [start_onboarding(hr, username=f"user{n}") for n in range(3)]
    store = start_store_opening(requester)
    cancelled = start_store_opening(requester, store_id="S0124")
    assert requester.post(f"/api/v1/instances/{cancelled['id']}/cancel").status_code == 200
    agent = as_user("it_agent")

    def listing(**params) -> dict:
        response = agent.get("/api/v1/instances", query_string={"scope": "all", **params})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    everything = listing()
    assert everything["total"] == 5
    newest_first = [cancelled["id"], store["id"], *[i["id"] for i in reversed(onboardings)]]
    assert [i["id"] for i in everything["items"]] == newest_first

    page1, page2, page3 = (listing(page=n, page_size=2) for n in (1, 2, 3))
    assert [p["total"] for p in (page1, page2, page3)] == [5, 5, 5]
    assert [len(p["items"]) for p in (page1, page2, page3)] == [2, 2, 1]
    paged_ids = [i["id"] for p in (page1, page2, page3) for i in p["items"]]
    assert paged_ids == newest_first
    assert page2["page"] == 2 and page2["page_size"] == 2
    assert listing(page=4, page_size=2)["items"] == []

    by_offering = listing(offering="store_opening_it_readiness")
    assert {i["id"] for i in by_offering["items"]} == {store["id"], cancelled["id"]}
    by_status = listing(status="cancelled")
    assert [i["id"] for i in by_status["items"]] == [cancelled["id"]]
    assert by_status["total"] == 1
    both = listing(status="user_input_required", offering="new_hire_onboarding", page_size=1)
    assert both["total"] == 3 and len(both["items"]) == 1
    assert listing(offering="no_such_offering")["total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page_size=10000", "page_size"),
        ("page_size=0", "page_size"),
        ("scope=bogus", "scope"),
        ("status=finished", "status"),
    ],
)
def test_bad_list_arguments_are_422(as_user, query, field):
    body = assert_problem(
        as_user("it_agent").get(f"/api/v1/instances?{query}"), 422, "invalid_input"
    )
    assert field in body["errors"]


# Cancel


def test_requester_cancels_own_running_request(app, as_user):
    requester = as_user("requester")
    instance = start_store_opening(requester)
    task = open_task(instance, "plan_review")
    assert task["task_id"] in {t["task_id"] for t in inbox(as_user("manager"))}

    response = requester.post(
        f"/api/v1/instances/{instance['id']}/cancel", json={"reason": "store plans changed"}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cancelled"
    assert body["open_tasks"] == []
    assert body["completed_at"] is not None
    cancelled = [e for e in body["events"] if e["kind"] == "cancelled"]
    assert cancelled[0]["actor"] == "requester"
    assert cancelled[0]["payload"] == {"reason": "store plans changed"}
    assert task["task_id"] not in {t["task_id"] for t in inbox(as_user("manager"))}
    assert get_instance(requester, instance["id"])["status"] == "cancelled"


def test_completing_a_task_of_a_cancelled_request_is_409(app, as_user):
    requester = as_user("requester")
    instance = start_store_opening(requester)
    task = open_task(instance, "plan_review")
    requester.post(f"/api/v1/instances/{instance['id']}/cancel")
    before = row_counts(app)

    response = as_user("manager").post(
        f"/api/v1/tasks/{task['task_id']}/complete", json={"data": {"plan_approved": True}}
    )

    assert_problem(response, 409, "conflict")
    assert row_counts(app) == before


def test_cancelled_request_keeps_its_business_data(as_user):
    requester = as_user("requester")
    instance = start_store_opening(requester)
    assert instance["data"]["store_id"] == "S0123"

    body = requester.post(f"/api/v1/instances/{instance['id']}/cancel").get_json()

    assert body["data"].get("store_id") == "S0123"


def test_cancelling_twice_is_409_and_changes_nothing(app, as_user):
    requester = as_user("requester")
    instance = start_store_opening(requester)
    assert requester.post(f"/api/v1/instances/{instance['id']}/cancel").status_code == 200
    before, row_before = row_counts(app), instance_row(app, instance["id"])

    response = requester.post(f"/api/v1/instances/{instance['id']}/cancel")

    assert_problem(response, 409, "conflict")
    assert row_counts(app) == before
    assert instance_row(app, instance["id"]) == row_before


def test_cancelling_someone_elses_request_is_refused_and_changes_nothing(app, as_user):
    instance = start_onboarding(as_user("hr"))
    before, row_before = row_counts(app), instance_row(app, instance["id"])

    # requester cannot even see it; manager sees it (group task) but is neither requester nor agent
    assert_problem(
        as_user("requester").post(f"/api/v1/instances/{instance['id']}/cancel"), 404, "not_found"
    )
    assert_problem(
        as_user("manager").post(f"/api/v1/instances/{instance['id']}/cancel"), 403, "forbidden"
    )

    assert row_counts(app) == before
    assert instance_row(app, instance["id"]) == row_before
    assert get_instance(as_user("hr"), instance["id"])["status"] == "user_input_required"


def test_agent_may_cancel_any_request(as_user):
    instance = start_onboarding(as_user("hr"))

    response = as_user("it_agent").post(f"/api/v1/instances/{instance['id']}/cancel")

    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"


def test_cancel_reason_longer_than_500_characters_is_422(as_user):
    requester = as_user("requester")
    instance = start_store_opening(requester)
    response = requester.post(
        f"/api/v1/instances/{instance['id']}/cancel", json={"reason": "x" * 501}
    )
    body = assert_problem(response, 422, "invalid_input")
    assert "reason" in body["errors"]
    assert get_instance(requester, instance["id"])["status"] == "user_input_required"


def test_store_data_is_echoed(as_user):
    instance = start_store_opening(as_user("requester"))
    assert {k: instance["data"][k] for k in STORE_DATA} == STORE_DATA
    assert instance["data"]["regional_group"] == "it_west"
