"""forms.model: definitions load, and bad data comes back as coded messages beside its fields."""

from datetime import date

import pytest

from engine.bpmn.specs import parse_process
from engine.errors import InvalidInput
from forms.camunda import from_camunda
from forms.fields import fields_for, labelled, summary
from forms.model import from_definition
from tests.conftest import FIXTURES_DIR

REQUEST = {
    "first_name": "Wei",
    "last_name": "Zhang",
    "username": "wei.zhang",
    "personal_email": "wei@example.com",
    "department": "engineering",
    "role": "Backend engineer",
    "start_date": "2030-03-04",
    "employment_type": "employee",
    "location": "shanghai",
}
TODAY = date(2026, 12, 2)


def errors_of(form, data, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as caught:
        form.load(data, **kwargs)
    return caught.value.extra["errors"]


def codes_of(form, data, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as caught:
        form.load(data, **kwargs)
    return {k: [m["code"] for m in v] for k, v in caught.value.extra["messages"].items()}


@pytest.fixture(scope="module")
def request_form(forms):
    return forms.get("new_hire_onboarding.request")


@pytest.fixture(scope="module")
def approval_form(forms):
    return forms.get("new_hire_onboarding.manager_approval")


def test_every_bundled_form_loads(forms):
    assert len(forms) == 9
    assert all(
        key.split(".")[0] in ("new_hire_onboarding", "store_opening_it_readiness") for key in forms
    )


def test_from_definition_refuses_schema_when_it_is_not_json_schema():
    with pytest.raises(ValueError, match="invalid form schema"):
        from_definition({"key": "demo.form", "schema": {"type": "no-such-type"}})


@pytest.mark.parametrize(
    "definition",
    [None, [], {"schema": {}}, {"key": 3, "schema": {}}, {"key": "a.b", "schema": {}, "ui": []}],
)
def test_from_definition_refuses_what_is_not_a_form(definition):
    with pytest.raises(ValueError):
        from_definition(definition)


def test_form_load_returns_data_when_valid(request_form):
    assert request_form.load(dict(REQUEST), today=TODAY) == REQUEST


def test_form_load_names_field_when_required_field_is_missing(request_form):
    data = {k: v for k, v in REQUEST.items() if k not in ("first_name", "start_date")}

    assert errors_of(request_form, data) == {
        "first_name": ["This field is required."],
        "start_date": ["This field is required."],
    }


def test_form_load_names_field_when_required_text_is_empty(request_form):
    assert errors_of(request_form, {**REQUEST, "role": ""}) == {"role": ["This field is required."]}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("personal_email", "wei.example.com", "format.email"),
        ("personal_email", "grace@", "format.email"),
        ("personal_email", "zhangwei@", "format.email"),
        ("personal_email", "a@localhost", "format.email"),
        ("start_date", "2030-02-30", "format.date"),
        ("start_date", "04/03/2030", "format.date"),
        ("username", "Wei Zhang", "pattern"),
        ("department", "legal", "choice"),
        ("first_name", 42, "type.string"),
    ],
)
def test_form_load_names_field_when_value_is_wrong(request_form, field, value, code):
    assert codes_of(request_form, {**REQUEST, field: value}) == {field: [code]}


def test_messages_come_in_both_languages(request_form):
    with pytest.raises(InvalidInput) as caught:
        request_form.load({**REQUEST, "personal_email": "grace@"})

    (message,) = caught.value.extra["messages"]["personal_email"]
    assert message == {
        "code": "format.email",
        "en": "Enter a valid email address.",
        "zh": "请输入有效的邮箱地址。",
    }
    assert caught.value.extra["errors"] == {"personal_email": ["Enter a valid email address."]}


def test_a_start_date_before_today_is_refused_and_today_is_fine(request_form):
    assert codes_of(request_form, {**REQUEST, "start_date": "2026-12-01"}, today=TODAY) == {
        "start_date": ["not_before"]
    }
    assert request_form.load({**REQUEST, "start_date": "2026-12-02"}, today=TODAY)
    # the message names the first day allowed
    errors = errors_of(request_form, {**REQUEST, "start_date": "2020-01-01"}, today=TODAY)
    assert errors == {"start_date": ["Choose 2026-12-02 or later."]}


def test_without_a_today_the_date_bound_is_not_checked(request_form):
    assert request_form.load({**REQUEST, "start_date": "2020-01-01"})


def test_the_username_field_declares_its_directory_lookup(request_form):
    assert request_form.lookups() == {"username": "directory.username_free"}


def test_form_load_names_field_when_number_is_out_of_range(forms):
    form = forms.get("store_opening_it_readiness.cctv_setup")

    errors = errors_of(form, {"cameras": 0, "recorder_serial": "DS-1"})

    assert list(errors) == ["cameras"]


def test_form_load_names_field_when_it_is_not_part_of_the_form(request_form):
    assert errors_of(request_form, {**REQUEST, "is_admin": True}) == {
        "is_admin": ["This field is not part of the form."]
    }


@pytest.mark.parametrize("payload", [None, [], ["first_name"], "first_name=Wei", 42])
def test_form_load_refuses_payload_when_it_is_not_an_object(request_form, payload):
    assert codes_of(request_form, payload) == {"_form": ["invalid"]}


def test_form_load_requires_comment_when_manager_rejects(approval_form):
    assert errors_of(approval_form, {"manager_approved": False}) == {
        "manager_comment": ["This field is required."]
    }


def test_form_load_refuses_blank_comment_when_manager_rejects(approval_form):
    errors = codes_of(approval_form, {"manager_approved": False, "manager_comment": "   "})

    assert errors == {"manager_comment": ["pattern"]}


def test_form_load_accepts_approval_without_comment(approval_form):
    assert approval_form.load({"manager_approved": True}) == {"manager_approved": True}


def test_form_load_accepts_rejection_with_comment(approval_form):
    data = {"manager_approved": False, "manager_comment": "Headcount frozen"}

    assert approval_form.load(data) == data


def test_chinese_forms_ask_the_family_name_first(request_form):
    assert [f.key for f in fields_for(request_form, "zh")][:2] == ["last_name", "first_name"]
    assert [f.key for f in fields_for(request_form, "en")][:2] == ["first_name", "last_name"]


def test_a_date_field_carries_its_first_allowed_day(request_form):
    (start,) = [f for f in fields_for(request_form, "en", today=TODAY) if f.key == "start_date"]

    assert start.attrs["min"] == "2026-12-02"


def test_choices_read_by_their_labels(request_form):
    shown = labelled(
        {"department": "finance", "location": "chengdu", "role": "x"}, request_form, "zh"
    )

    assert shown == {"department": "财务", "location": "成都", "role": "x"}


def test_the_error_summary_follows_the_form_order(forms):
    form = forms.get("store_opening_it_readiness.request")
    fields = fields_for(form, "en")
    errors = {"contact_phone": ["x"], "store_id": ["y"], "address": ["z"], "region": ["w"]}

    assert [item["anchor"] for item in summary(fields, errors)] == [
        "f-store_id",
        "f-region",
        "f-address",
        "f-contact_phone",
    ]


@pytest.fixture(scope="module")
def camunda_form():
    document = (FIXTURES_DIR / "camunda_form.bpmn").read_bytes()
    parsed = parse_process("camunda_form", {"camunda_form.bpmn": document})
    return from_camunda("embedded:ask", parsed.meta["embedded_forms"]["ask"])


def test_from_camunda_maps_fields_onto_json_schema(camunda_form):
    schema = camunda_form.schema

    assert schema["required"] == ["first_name"]
    assert schema["properties"]["first_name"]["type"] == "string"
    assert schema["properties"]["laptop"] == {"enum": ["mac", "tp"]}
    assert schema["additionalProperties"] is False
    assert camunda_form.ui["order"] == ["first_name", "laptop"]
    assert camunda_form.ui["fields"]["laptop"]["options"]["tp"] == {
        "en": "ThinkPad",
        "zh": "ThinkPad",
    }


def test_from_camunda_form_validates_like_any_form(camunda_form):
    assert camunda_form.load({"first_name": "Wei", "laptop": "tp"}) == {
        "first_name": "Wei",
        "laptop": "tp",
    }
    assert codes_of(camunda_form, {"laptop": "dell"}) == {
        "first_name": ["required"],
        "laptop": ["choice"],
    }


def test_from_camunda_maps_types_and_limits():
    fields = [
        {"id": "seats", "label": "Seats", "type": "long", "constraints": {"min": "1", "max": "9"}},
        {"id": "day", "label": "Day", "type": "date", "constraints": {}},
        {"id": "ok", "label": "OK", "type": "boolean", "constraints": {"required": "true"}},
        {"id": "note", "label": "Note", "type": "string", "constraints": {"maxlength": "5"}},
    ]

    form = from_camunda("embedded:t", fields)

    assert form.schema["properties"] == {
        "seats": {"type": "integer", "minimum": 1, "maximum": 9},
        "day": {"type": "string", "format": "date"},
        "ok": {"type": "boolean"},
        "note": {"type": "string", "maxLength": 5},
    }
    assert errors_of(form, {"ok": True, "seats": 10, "day": "tomorrow"}) == {
        "seats": ["Must be at most 9."],
        "day": ["Enter a valid date (YYYY-MM-DD)."],
    }
