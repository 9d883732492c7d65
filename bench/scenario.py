"""The onboarding request every benchmark instance runs: the same data bare and end to end."""

PROCESS_KEY = "new_hire_onboarding"

# An employee (so grant_vpn runs too: 3 service tasks) starting far in the future, so the
# "day before start" boundary timer never fires during the bench.
START_DATE = "2031-03-03"

# (bpmn id, form data, user who completes it through the API)
USER_STEPS = [
    ("manager_approval", {"manager_approved": True, "manager_comment": "Welcome aboard"}),
    ("prepare_laptop", {"asset_tag": "LT-004211", "laptop_model": "thinkpad_t14"}),
]
STEP_USERS = {"manager_approval": "manager", "prepare_laptop": "it_agent"}
REQUESTER = "hr"


def start_data(username: str) -> dict:
    """Valid data for the start form new_hire_onboarding.request."""
    return {
        "first_name": "Wei",
        "last_name": "Zhang",
        "username": username,
        "personal_email": "wei.zhang@example.com",
        "department": "engineering",
        "role": "Backend engineer",
        "start_date": START_DATE,
        "employment_type": "employee",
        "location": "shanghai",
    }
