"""`flowdesk seed-demo` fills a fresh demo with requests in the states a new user should meet."""

from datetime import timedelta

from engine import clock


def _seed(app) -> str:
    result = app.test_cli_runner().invoke(args=["flowdesk", "seed-demo"])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_requests_cover_the_states_people_meet(app, as_user):
    assert "demo requests: 6 (#1-#6)" in _seed(app)

    everyone = as_user("admin").get("/api/v1/instances?scope=all").json["items"]
    opening = (clock.today() + timedelta(days=30)).isoformat()  # in the titles
    seen = {(i["title"].replace(opening, "<day>"), i["status"], i["outcome"]) for i in everyone}
    assert seen == {
        ("Onboarding Wei Zhang (<day>)", "user_input_required", None),
        ("Onboarding Na Li (<day>)", "user_input_required", None),
        ("Onboarding Tom Brown (<day>)", "complete", "rejected"),
        ("Store S0101 Chengdu Taikoo Li opens <day>", "user_input_required", None),
        ("Store S0102 Hangzhou West Lake opens <day>", "user_input_required", None),
        ("Store S0103 Beijing Sanlitun opens <day>", "cancelled", "cancelled"),
    }
    inboxes = {
        user: sorted(t["bpmn_id"] for t in as_user(user).get("/api/v1/tasks").json["items"])
        for user in ("manager", "it_agent")
    }
    assert inboxes["manager"] == ["manager_approval", "plan_review"]
    assert inboxes["it_agent"] == ["cctv_setup", "network_line", "pos_setup", "prepare_laptop"]
    rejected = next(i for i in everyone if i["outcome"] == "rejected")
    assert "campus programme" in rejected["outcome_reason"]
    mine = as_user("requester").get("/api/v1/instances").json["items"]
    assert len(mine) == 3  # the store openings; HR's onboardings are not the requester's
    commented = next(i for i in mine if "S0102" in i["title"])
    comments = as_user("requester").get(f"/api/v1/instances/{commented['id']}/comments").json
    assert [c["author"] for c in comments] == ["requester"]


def test_seeding_again_adds_no_requests(app, as_user):
    _seed(app)
    assert "demo requests" not in _seed(app)
    assert as_user("admin").get("/api/v1/instances?scope=all").json["total"] == 6
