"""The generic renderer on a form that uses every widget, file uploads, and Camunda forms."""

import io
import json
import re

import pytest
from sqlalchemy import select

from engine.audit.models import AuditEvent
from engine.catalog import service as catalog
from engine.catalog.bundles import parse_bundle
from engine.db import db
from engine.instances import reads
from engine.instances.models import Attachment, ProcessInstance
from tests.conftest import FIXTURES_DIR
from tests.web.support import field_error, input_value, open_task, text, visible_text

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EVERYTHING = {
    "key": "web_test.everything",
    "title": {"en": "Everything", "zh": "全部控件"},
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 50},
            "notes": {"type": "string", "maxLength": 500},
            "count": {"type": "integer", "minimum": 1, "maximum": 10},
            "ratio": {"type": "number"},
            "contact": {"type": "string", "format": "email"},
            "day": {"type": "string", "format": "date"},
            "meet_at": {"type": "string", "format": "date-time"},
            "size": {"type": "string", "enum": ["s", "m", "l"]},
            "colour": {"type": "string", "enum": ["red", "blue"]},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}},
            "langs": {"type": "array", "items": {"type": "string", "enum": ["en", "zh"]}},
            "urgent": {"type": "boolean"},
            "address": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 1},
                    "zip": {"type": "string", "pattern": "^[0-9]{6}$"},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "qty": {"type": "integer", "minimum": 1},
                    },
                    "required": ["name", "qty"],
                    "additionalProperties": False,
                },
            },
            "plan": {
                "type": "object",
                "properties": {
                    "attachment_id": {"type": "integer"},
                    "filename": {"type": "string"},
                    "size": {"type": "integer"},
                    "content_type": {"type": "string"},
                },
                "required": ["attachment_id"],
            },
        },
        "required": ["title", "count", "items"],
        "additionalProperties": False,
    },
    "ui": {
        "order": [
            "title",
            "notes",
            "count",
            "ratio",
            "contact",
            "day",
            "meet_at",
            "size",
            "colour",
            "tags",
            "langs",
            "urgent",
            "address",
            "items",
            "plan",
        ],
        "fields": {
            "title": {
                "label": {"en": "Title", "zh": "标题"},
                "help": {"en": "Short", "zh": "简短"},
            },
            "notes": {"label": {"en": "Notes", "zh": "备注"}, "widget": "textarea"},
            "count": {"label": {"en": "Count", "zh": "数量"}},
            "colour": {
                "widget": "radio",
                "options": {"red": {"en": "Red", "zh": "红"}, "blue": {"en": "Blue", "zh": "蓝"}},
            },
            "langs": {"widget": "multiselect"},
            "address": {
                "label": {"en": "Address", "zh": "地址"},
                "fields": {"city": {"label": {"en": "City", "zh": "城市"}}},
            },
            "items": {
                "label": {"en": "Items", "zh": "物品"},
                "fields": {"qty": {"label": {"en": "Quantity", "zh": "数量"}}},
            },
            "plan": {"label": {"en": "Floor plan", "zh": "平面图"}, "widget": "file"},
        },
    },
}
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="web_test_definitions" targetNamespace="http://flowdesk.example.org/bpmn">
  <bpmn:process id="web_test" name="Web test" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="name_zh" value="网页测试" />
        <spiffworkflow:property name="category" value="it_support" />
        <spiffworkflow:property name="expected_duration" value="PT4H" />
        <spiffworkflow:property name="start_form" value="web_test.everything" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check" name="Check">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="form" value="web_test.everything" />
          <spiffworkflow:property name="candidate_group" value="it_support" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FILLED = {
    "title": "Kit",
    "notes": "Line one\nline two",
    "count": "3",
    "ratio": "0.5",
    "contact": "a@example.com",
    "day": "2099-01-02",
    "meet_at": "2099-01-02T09:30",
    "size": "m",
    "colour": "blue",
    "tags": ["a", "c"],
    "langs": ["zh"],
    "urgent": "true",
    "address.city": "Chengdu",
    "address.zip": "610000",
    "items.0.name": "Pen",
    "items.0.qty": "2",
    "items.2.name": "Ink",
    "items.2.qty": "3",
}


def deploy(app, key: str, files: dict[str, bytes]) -> None:
    with app.app_context():
        catalog.deploy(parse_bundle(key, files), user_id=None)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def everything(app):
    form = json.dumps(EVERYTHING).encode()
    deploy(app, "web_test", {"web_test.bpmn": BPMN.encode(), "forms/everything.json": form})
    return "/services/web_test"


def stored_data(app, instance_id: int) -> dict:
    with app.app_context():
        data = reads.instance_data(db.session.get(ProcessInstance, instance_id))
        db.session.remove()
    return data


def test_every_widget_renders_with_labels_and_required_marks(web, everything):
    page = text(web("hr").get(everything))
    assert 'type="datetime-local"' in page and 'name="meet_at"' in page
    assert 'type="date"' in page and 'type="email"' in page
    assert '<select class="input" id="f-langs" name="langs"' in page and "multiple" in page
    assert 'type="checkbox" name="tags" value="c"' in page
    assert 'type="radio" name="colour" value="blue"' in page and "Blue" in page
    assert 'type="checkbox" id="f-urgent" name="urgent" value="true"' in page
    assert 'name="address.city"' in page and "<legend>Address" in page
    assert 'name="items.0.name"' in page and 'name="items.__i__.qty"' in page
    assert 'type="file" id="f-plan" name="plan"' in page
    assert 'inputmode="numeric"' in page and 'maxlength="50"' in page
    assert re.search(r'for="f-title">Title<span class="req"', page)
    assert 'aria-describedby="f-title-help' in page


def test_labels_follow_the_language(web, everything):
    page = visible_text(web("hr", lang="zh").get(everything))
    assert "标题" in page and "城市" in page and "红" in page and "平面图" in page


def test_conversion_errors_sit_beside_their_fields_and_everything_is_kept(web, everything):
    client = web("hr")
    client.get(everything)
    posted = {**FILLED, "count": "abc", "items.2.qty": "x", "address.city": ""}
    posted["plan"] = (io.BytesIO(PDF), "plan.pdf", "application/pdf")
    response = client.post(everything, posted, content_type="multipart/form-data")
    assert response.status_code == 422
    assert field_error(response, "count") == "Enter a whole number."
    assert field_error(response, "items.1.qty") == "Enter a whole number."
    assert field_error(response, "address.city") == "This field is required."
    assert field_error(response, "title") == ""
    assert input_value(response, "count") == "abc"
    assert input_value(response, "items.1.name") == "Ink"  # blank row 1 dropped, rows renumbered
    assert input_value(response, "meet_at") == "2099-01-02T09:30"
    page = text(response)
    assert 'value="c" checked' in page and 'value="zh" selected' in page
    assert "Line one\nline two</textarea>" in page
    assert "plan.pdf" in page and 'name="plan.token"' in page
    summary = visible_text(response)
    assert "Please correct 3 fields." in summary and "Items · 2 · Quantity" in summary


def test_fixed_form_stores_typed_data_and_the_kept_file(app, web, everything):
    client = web("hr")
    client.get(everything)
    first = client.post(
        everything,
        {**FILLED, "count": "abc", "plan": (io.BytesIO(PDF), "plan.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )
    token = input_value(first, "plan.token")
    response = client.post(everything, {**FILLED, "plan.token": token})
    assert response.status_code == 302
    instance_id = int(response.location.rsplit("/", 1)[1])
    data = stored_data(app, instance_id)
    assert data["count"] == 3 and data["ratio"] == 0.5 and data["urgent"] is True
    assert data["tags"] == ["a", "c"] and data["langs"] == ["zh"]
    assert data["address"] == {"city": "Chengdu", "zip": "610000"}
    assert data["items"] == [{"name": "Pen", "qty": 2}, {"name": "Ink", "qty": 3}]
    assert data["meet_at"] == "2099-01-02T09:30:00+08:00"
    assert data["plan"]["filename"] == "plan.pdf" and data["plan"]["size"] == len(PDF)
    page = client.get(f"/requests/{instance_id}")
    download = f"/requests/{instance_id}/files/{data['plan']['attachment_id']}"
    assert download in text(page)
    assert client.get(download, buffered=True).data == PDF
    assert web("it_agent").get(download, buffered=True).data == PDF  # a handler of the request
    assert web("requester").get(download, buffered=True).status_code == 404
    with app.app_context():  # in the audit trail: who downloaded, not who was refused
        rows = db.session.scalars(select(AuditEvent).filter_by(kind="download"))
        assert [(e.actor, e.subject) for e in rows] == [
            ("hr", f"attachment:{data['plan']['attachment_id']}"),
            ("it_agent", f"attachment:{data['plan']['attachment_id']}"),
        ]


def test_rows_can_be_added_and_removed_without_javascript(web, everything):
    client = web("hr")
    client.get(everything)
    added = client.post(everything, {"items.0.name": "Pen", "_action": "add:items"})
    assert added.status_code == 200 and "error-summary" not in text(added)
    assert input_value(added, "items.0.name") == "Pen"
    assert 'name="items.1.name"' in text(added)
    removed = client.post(
        everything,
        {"items.0.name": "Pen", "items.1.name": "Ink", "_action": "remove:items.0"},
    )
    assert input_value(removed, "items.0.name") == "Ink"
    assert 'name="items.1.name"' not in text(removed)


def test_files_of_a_wrong_type_or_size_are_refused(app, web, everything):
    client = web("hr")
    client.get(everything)
    wrong = client.post(
        everything,
        {**FILLED, "plan": (io.BytesIO(b"MZ..."), "tool.exe", "application/x-msdownload")},
        content_type="multipart/form-data",
    )
    assert field_error(wrong, "plan") == "This type of file is not accepted."
    app.config["ATTACHMENT_MAX_BYTES"] = 10
    big = client.post(
        everything,
        {**FILLED, "plan": (io.BytesIO(PDF), "plan.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )
    assert field_error(big, "plan").startswith("The file is too large")


def test_a_file_sent_with_a_step_is_linked_to_the_request(app, web, everything):
    instance_id = web("hr").start("web_test", {k: v for k, v in FILLED.items()})
    task = open_task(app, instance_id, "check")
    agent = web("it_agent")
    agent.get(f"/inbox/tasks/{task}")
    response = agent.post(
        f"/inbox/tasks/{task}",
        {**FILLED, "plan": (io.BytesIO(PDF), "plan.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        row = db.session.scalar(select(Attachment).filter_by(filename="plan.pdf"))
        assert row.instance_id == instance_id
    assert "plan.pdf" in visible_text(web("hr").get(f"/requests/{instance_id}"))


def test_camunda_form_data_renders_and_validates_the_same_way(app, web):
    deploy(
        app,
        "camunda_form",
        {"camunda_form.bpmn": (FIXTURES_DIR / "camunda_form.bpmn").read_bytes()},
    )
    admin = web("admin")
    instance_id = admin.start("camunda_form", {})
    task = open_task(app, instance_id, "ask")
    page = admin.get(f"/inbox/tasks/{task}")
    assert "First name" in visible_text(page) and "MacBook" in visible_text(page)
    empty = admin.post(f"/inbox/tasks/{task}", {})
    assert empty.status_code == 422
    assert field_error(empty, "first_name") == "This field is required."
    done = admin.post(f"/inbox/tasks/{task}", {"first_name": "Wei", "laptop": "tp"})
    assert done.status_code == 302
    assert stored_data(app, instance_id)["laptop"] == "tp"
