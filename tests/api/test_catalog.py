"""The service catalog: bilingual offerings and their start forms."""

from tests.api.support import assert_problem


def test_catalog_lists_bundled_offerings_with_both_languages(as_user):
    response = as_user("requester").get("/api/v1/offerings")
    assert response.status_code == 200
    offerings = {o["key"]: o for o in response.get_json()}
    assert set(offerings) == {"new_hire_onboarding", "store_opening_it_readiness"}
    onboarding = offerings["new_hire_onboarding"]
    assert onboarding["name"] == {"en": "New-hire IT onboarding", "zh": "新员工 IT 入职"}
    assert onboarding["version"] == 1
    assert onboarding["start_form"] == "new_hire_onboarding.request"
    assert onboarding["category"] == "onboarding"
    assert onboarding["expected_duration"] == "P5D"
    assert "入职" in onboarding["keywords"]
    assert onboarding["summary"]["en"] and onboarding["summary"]["zh"]
    assert "start_form_definition" not in onboarding
    assert offerings["store_opening_it_readiness"]["name"]["zh"] == "新店开业 IT 筹备"


def test_offering_detail_includes_start_form_definition(as_user):
    response = as_user("hr").get("/api/v1/offerings/new_hire_onboarding")
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"]["zh"] == "新员工 IT 入职"
    assert body["description"]["en"].startswith("HR submits")
    form = body["start_form_definition"]
    assert form["key"] == "new_hire_onboarding.request"
    assert form["title"] == {"en": "New-hire IT onboarding", "zh": "新员工 IT 入职"}
    assert "username" in form["schema"]["required"]
    assert form["schema"]["properties"]["username"]["pattern"].startswith("^[a-z]")
    assert form["ui"]["fields"]["start_date"]["label"]["zh"] == "入职日期"
    assert form["ui"]["order"]["en"][0] == "first_name"
    assert form["ui"]["order"]["zh"][:2] == ["last_name", "first_name"]


def test_unknown_offering_is_404(as_user):
    assert_problem(as_user("hr").get("/api/v1/offerings/no_such_offering"), 404, "not_found")
