"""forms.registry: definitions load, and bad data comes back as messages beside its fields."""

import json

import pytest

from engine.errors import InvalidInput, InvalidProcess
from engine.specs import parse_process
from forms.registry import DEFINITIONS_DIR, FormRegistry, from_camunda, from_definition
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


def errors_of(form, data) -> dict:
    with pytest.raises(InvalidInput) as caught:
        form.load(data)
    return caught.value.extra["errors"]


@pytest.fixture(scope="module")
def request_form(forms):
    return forms.get("new_hire_onboarding.request")


@pytest.fixture(scope="module")
def approval_form(forms):
    return forms.get("new_hire_onboarding.manager_approval")


def test_load_reads_every_definition_file(forms):
    stems = sorted(path.stem for path in DEFINITIONS_DIR.glob("*.json"))

    assert sorted(forms.forms) == stems
    assert len(stems) == 9


def test_load_refuses_definition_when_key_differs_from_file_name(tmp_path):
    definition = json.loads((DEFINITIONS_DIR / "new_hire_onboarding.request.json").read_text())
    (tmp_path / "other.key.json").write_text(json.dumps(definition))

    with pytest.raises(ValueError, match="does not match the file name"):
        FormRegistry.load(tmp_path)


def test_from_definition_refuses_schema_when_it_is_not_json_schema():
    with pytest.raises(ValueError, match="invalid form schema"):
        from_definition({"key": "demo.form", "schema": {"type": "no-such-type"}})


def test_get_returns_none_when_key_is_unknown(forms):
    assert forms.get("new_hire_onboarding.nope") is None


def test_form_load_returns_data_when_valid(request_form):
    assert request_form.load(dict(REQUEST)) == REQUEST


def test_form_load_names_field_when_required_field_is_missing(request_form):
    data = {k: v for k, v in REQUEST.items() if k not in ("first_name", "start_date")}

    assert errors_of(request_form, data) == {
        "first_name": ["This field is required."],
        "start_date": ["This field is required."],
    }


def test_form_load_names_field_when_required_text_is_empty(request_form):
    assert errors_of(request_form, {**REQUEST, "role": ""}) == {"role": ["This field is required."]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("personal_email", "wei.example.com", "Not a valid email."),
        ("start_date", "2030-02-30", "Not a valid date."),
        ("start_date", "04/03/2030", "Not a valid date."),
        ("username", "Wei Zhang", "Does not match the expected format."),
        ("department", "legal", "Not one of the allowed choices."),
        ("first_name", 42, "Must be of type string."),
    ],
)
def test_form_load_names_field_when_value_is_wrong(request_form, field, value, message):
    assert errors_of(request_form, {**REQUEST, field: value}) == {field: [message]}


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
    assert errors_of(request_form, payload) == {"_form": ["Not an object."]}


def test_form_load_requires_comment_when_manager_rejects(approval_form):
    assert errors_of(approval_form, {"manager_approved": False}) == {
        "manager_comment": ["This field is required."]
    }


def test_form_load_refuses_blank_comment_when_manager_rejects(approval_form):
    errors = errors_of(approval_form, {"manager_approved": False, "manager_comment": "   "})

    assert errors == {"manager_comment": ["Does not match the expected format."]}


def test_form_load_accepts_approval_without_comment(approval_form):
    assert approval_form.load({"manager_approved": True}) == {"manager_approved": True}


def test_form_load_accepts_rejection_with_comment(approval_form):
    data = {"manager_approved": False, "manager_comment": "Headcount frozen"}

    assert approval_form.load(data) == data


def test_check_process_names_forms_that_do_not_exist(forms):
    with pytest.raises(InvalidProcess) as caught:
        forms.check_process({"new_hire_onboarding.request", "demo.missing", "embedded:ask"})

    assert [p["id"] for p in caught.value.extra["problems"]] == ["demo.missing"]


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
    assert errors_of(camunda_form, {"laptop": "dell"}) == {
        "first_name": ["This field is required."],
        "laptop": ["Not one of the allowed choices."],
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
        "seats": ["10 is greater than the maximum of 9"],
        "day": ["Not a valid date."],
    }
