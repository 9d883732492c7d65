"""engine.specs: parsing bundled processes, and every kind of bad input as one InvalidProcess."""

import pytest

from engine.bpmn.specs import content_hash, parse_process
from engine.errors import InvalidProcess
from tests.conftest import FIXTURES_DIR, PROCESSES_DIR
from tests.unit.support import SCRIPT_BODY, TIMER_BODY, bpmn, line_of

VALID = bpmn(SCRIPT_BODY.format(script="total = 1 + 2"))


def problems_of(files: dict, key: str = "demo") -> list[dict]:
    with pytest.raises(InvalidProcess) as caught:
        parse_process(key, files)
    return caught.value.extra["problems"]


def read_bundled(key: str) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (PROCESSES_DIR / key).glob("*.bpmn")}


@pytest.mark.parametrize("key", ["new_hire_onboarding", "store_opening_it_readiness"])
def test_parse_process_builds_spec_when_bundled_file_is_valid(key):
    parsed = parse_process(key, read_bundled(key))

    assert parsed.key == key
    assert parsed.spec.name == key
    assert parsed.meta["start_form"] == f"{key}.request"
    assert parsed.meta["name_en"] and parsed.meta["name_zh"] != parsed.meta["name_en"]


def test_parse_process_reads_catalog_meta_when_process_has_properties(library):
    parsed = library.get("new_hire_onboarding")

    assert parsed.meta["name_zh"] == "新员工 IT 入职"
    assert parsed.meta["category"] == "onboarding"
    assert parsed.meta["expected_duration"] == "P5D"
    assert "vpn" in parsed.meta["keywords"] and "入职" in parsed.meta["keywords"]
    assert parsed.meta["embedded_forms"] == {}


def test_parse_process_lists_forms_and_operations_when_tasks_name_them(library):
    parsed = library.get("new_hire_onboarding")

    assert parsed.form_keys() == {
        "new_hire_onboarding.request",
        "new_hire_onboarding.manager_approval",
        "new_hire_onboarding.prepare_laptop",
    }
    assert parsed.operation_names() == {
        "directory.create_account",
        "directory.grant_vpn",
        "mail.send",
        "notify.im",
    }


def test_parse_process_keeps_embedded_subprocess_spec_when_process_has_one(library):
    parsed = library.get("store_opening_it_readiness")

    assert "readiness" in parsed.subprocess_specs
    assert "store_opening_it_readiness.network_line" in parsed.form_keys()


def test_parse_process_succeeds_twice_when_same_files_are_deployed_again():
    first = parse_process("demo", {"demo.bpmn": VALID})
    second = parse_process("demo", {"demo.bpmn": VALID})

    assert first.spec is not second.spec
    assert first.content_hash == second.content_hash


def test_parse_process_reports_line_when_xml_is_malformed():
    document = VALID.replace(b'<bpmn:endEvent id="end"', b'<bpmn:endEvent id="end" name=>')

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == line_of(document, '<bpmn:endEvent id="end"')
    assert problem["message"].startswith("malformed XML")


def test_parse_process_reports_every_error_when_file_breaks_schema_several_times():
    body = (
        SCRIPT_BODY.format(script="total = 1")
        .replace('<bpmn:startEvent id="start">', '<bpmn:startEvent id="start" colour="red">')
        .replace(
            '<bpmn:endEvent id="end" name="Done">',
            '<bpmn:endEvent id="end" name="Done">\n      <bpmn:nonsense />',
        )
        .replace('targetRef="end" />', 'targetRef="end" weight="3" />')
    )
    document = bpmn(body)

    problems = problems_of({"demo.bpmn": document})

    assert [(p["file"], p["line"], p["id"]) for p in problems] == [
        ("demo.bpmn", line_of(document, 'colour="red"'), "start"),
        ("demo.bpmn", line_of(document, "<bpmn:nonsense"), None),
        ("demo.bpmn", line_of(document, 'weight="3"'), "flow_2"),
    ]
    assert "colour" in problems[0]["message"]
    assert "nonsense" in problems[1]["message"]


def test_parse_process_reports_problems_of_every_file_when_several_are_bad():
    schema_error = VALID.replace(b'<bpmn:startEvent id="start">', b'<bpmn:startEvent id="s" x="1">')

    problems = problems_of({"a.bpmn": schema_error, "b.bpmn": b"<bpmn:definitions"})

    assert [(p["file"], p["line"]) for p in problems] == [
        ("a.bpmn", line_of(schema_error, 'x="1"')),
        ("b.bpmn", 1),
    ]


def test_parse_process_names_service_task_when_it_has_no_operator():
    body = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="call_crm" name="Call CRM">
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="call_crm" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="call_crm" targetRef="end" />
"""
    document = bpmn(body)

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "call_crm"
    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == line_of(document, '<bpmn:serviceTask id="call_crm"')
    assert "operator" in problem["message"]


def test_parse_process_names_call_activity_when_called_process_is_unknown():
    body = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="order_items" calledElement="order_batch">
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="order_items" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="order_items" targetRef="end" />
"""
    document = bpmn(body)

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "order_items"
    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == line_of(document, '<bpmn:callActivity id="order_items"')
    assert "order_batch" in problem["message"]


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("timeDuration", "PT1H"),
        ("timeCycle", "R3/PT10M"),
        ("timeDate", "2030-07-01T09:00:00+08:00"),
    ],
)
def test_parse_process_reads_timer_as_a_string_when_camunda_writes_it_unquoted(kind, expression):
    # Camunda's timers are text, FlowDesk's are Python: PT1H would be a name and fail once armed
    document = bpmn(TIMER_BODY.format(kind=kind, expression=expression))

    parsed = parse_process("demo", {"demo.bpmn": document})

    assert parsed.spec.task_specs["wait"].event_definition.expression == repr(expression)


def test_parse_process_reads_cron_cycle_as_cron():
    document = bpmn(TIMER_BODY.format(kind="timeCycle", expression="0 0 9 * * ?"))

    parsed = parse_process("demo", {"demo.bpmn": document})

    definition = parsed.spec.task_specs["wait"].event_definition
    assert type(definition).__name__ == "FlowDeskCycleTimerEventDefinition"
    assert definition.expression == repr("0 0 9 * * ?")


def test_parse_process_reads_quoted_cron_cycle_as_written():
    document = bpmn(TIMER_BODY.format(kind="timeCycle", expression='"0 0 9 * * ?"'))

    parsed = parse_process("demo", {"demo.bpmn": document})

    assert parsed.spec.task_specs["wait"].event_definition.expression == '"0 0 9 * * ?"'


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 0 25 * * ?", "cron cycle '0 0 25 * * ?' cannot be read"),
        ('"0 0 25 * * ?"', "cron cycle '0 0 25 * * ?' cannot be read"),  # quoted, Spiff style
        ("0 0 9 ? * MON-FRI 2026/2", "year '2026/2' must be * or a year range"),
        ("0 0 9 ? * 8", "weekday 8 is not 1 (SUN) to 7 (SAT)"),
        ("0 0 9 31 2 ?", "never fires"),
    ],
)
def test_parse_process_names_timer_when_cron_cycle_is_invalid(expression, words):
    document = bpmn(TIMER_BODY.format(kind="timeCycle", expression=expression))

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "wait"
    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == line_of(document, expression)
    assert words in problem["message"]


def test_parse_process_names_timer_when_date_has_no_utc_offset():
    # SpiffWorkflow reads a naive date with the server's offset, frozen at import (NOTES §4)
    document = bpmn(TIMER_BODY.format(kind="timeDate", expression='"2030-01-01T09:00:00"'))

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "wait"
    assert problem["line"] == line_of(document, "2030-01-01T09")
    assert "UTC offset" in problem["message"]


@pytest.mark.parametrize("expression", ['"2030-01-01T09:00:00+08:00"', '"2030-01-01T01:00Z"'])
def test_parse_process_accepts_timer_when_date_has_an_offset(expression):
    document = bpmn(TIMER_BODY.format(kind="timeDate", expression=expression))

    assert parse_process("demo", {"demo.bpmn": document}).key == "demo"


def test_parse_process_accepts_timer_when_expression_is_quoted():
    document = bpmn(TIMER_BODY.format(kind="timeDuration", expression='"PT1H"'))

    assert parse_process("demo", {"demo.bpmn": document}).key == "demo"


def test_parse_process_names_flow_when_condition_has_syntax_error():
    body = SCRIPT_BODY.format(script="total = 1").replace(
        '<bpmn:sequenceFlow id="flow_2" sourceRef="calc" targetRef="end" />',
        '<bpmn:sequenceFlow id="flow_2" sourceRef="calc" targetRef="end">\n'
        '      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
        "approved ==</bpmn:conditionExpression>\n"
        "    </bpmn:sequenceFlow>",
    )
    document = bpmn(body)

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "flow_2"
    assert problem["line"] == line_of(document, "approved ==")
    assert "SyntaxError" in problem["message"]


def test_parse_process_names_script_task_when_script_has_syntax_error():
    document = bpmn(SCRIPT_BODY.format(script="total = (1 +"))

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "calc"
    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == line_of(document, "<bpmn:script>")
    assert "SyntaxError" in problem["message"]


def test_parse_process_names_script_task_when_script_reaches_for_dunders():
    document = bpmn(SCRIPT_BODY.format(script="names = ().__class__.__base__.__subclasses__()"))

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "calc"
    assert "__class__" in problem["message"]


def test_parse_process_names_service_task_when_parameter_has_syntax_error():
    body = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="notify" name="Notify">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify.im">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="text" type="str" value="'Hello ' +" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="notify" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="notify" targetRef="end" />
"""
    document = bpmn(body)

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "notify"
    assert problem["line"] == line_of(document, '<spiffworkflow:parameter id="text"')
    assert "SyntaxError" in problem["message"]


def test_parse_process_names_user_task_when_candidate_group_expression_is_invalid():
    body = """
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="candidate_group_expression" value="'it_' +" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_1</bpmn:incoming>
      <bpmn:outgoing>flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="flow_2" sourceRef="review" targetRef="end" />
"""
    document = bpmn(body)

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "review"
    assert problem["line"] == line_of(document, 'name="candidate_group_expression"')


XXE_BODY = SCRIPT_BODY.format(script="secret = '&xxe;'")
XXE_DOCTYPE = '<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def test_parse_process_refuses_doctype_when_file_declares_an_entity():
    head, rest = bpmn(XXE_BODY).decode().split("\n", 1)
    document = (head + "\n" + XXE_DOCTYPE + rest).encode()

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["file"] == "demo.bpmn"
    assert "DOCTYPE" in problem["message"]


def test_parse_process_refuses_doctype_when_file_is_utf16_encoded():
    head, rest = bpmn(XXE_BODY).decode().split("\n", 1)
    head = head.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    document = (head + "\n" + XXE_DOCTYPE + rest).encode("utf-16")

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["file"] == "demo.bpmn"
    assert "DOCTYPE" in problem["message"]


def test_parse_process_refuses_id_start_when_element_uses_it():
    document = bpmn(SCRIPT_BODY.format(script="total = 1").replace('"start"', '"Start"'))

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["id"] == "Start"
    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == line_of(document, 'id="Start"')


def test_parse_process_refuses_sequence_flow_when_it_has_no_id():
    document = bpmn(
        SCRIPT_BODY.format(script="total = 1").replace(
            '<bpmn:sequenceFlow id="flow_2" ', "<bpmn:sequenceFlow "
        )
    )

    (problem,) = problems_of({"demo.bpmn": document})

    assert problem["file"] == "demo.bpmn"
    assert problem["line"] == line_of(document, '<bpmn:sequenceFlow sourceRef="calc"')
    assert "id" in problem["message"]


@pytest.mark.parametrize("key", ["Demo", "1demo", "demo-x", "", "d", "demo.bpmn"])
def test_parse_process_refuses_key_when_not_snake_case(key):
    (problem,) = problems_of({"demo.bpmn": VALID}, key=key)

    assert problem["message"] == "invalid process key"


def test_parse_process_names_key_when_files_lack_that_process():
    (problem,) = problems_of({"demo.bpmn": VALID}, key="other_process")

    assert problem["id"] == "other_process"
    assert "demo" in problem["message"]


def test_parse_process_refuses_when_no_file_is_given():
    (problem,) = problems_of({})

    assert problem["message"] == "no file"


def test_parse_process_lists_camunda_form_fields_when_task_has_form_data():
    document = (FIXTURES_DIR / "camunda_form.bpmn").read_bytes()

    parsed = parse_process("camunda_form", {"camunda_form.bpmn": document})

    assert parsed.meta["embedded_forms"] == {
        "ask": [
            {
                "id": "first_name",
                "label": "First name",
                "type": "string",
                "default": None,
                "options": [],
                "constraints": {"required": "true"},
            },
            {
                "id": "laptop",
                "label": "Laptop",
                "type": "enum",
                "default": "mac",
                "options": [["mac", "MacBook"], ["tp", "ThinkPad"]],
                "constraints": {},
            },
        ]
    }


def test_content_hash_is_stable_when_file_order_changes():
    forward = {"a.bpmn": b"<a/>", "b.bpmn": b"<b/>"}
    backward = {"b.bpmn": b"<b/>", "a.bpmn": b"<a/>"}

    assert content_hash(forward) == content_hash(backward) == content_hash(dict(forward))
    assert len(content_hash(forward)) == 64


@pytest.mark.parametrize(
    "changed",
    [
        {"a.bpmn": b"<a />", "b.bpmn": b"<b/>"},
        {"c.bpmn": b"<a/>", "b.bpmn": b"<b/>"},
        {"a.bpmn": b"<a/>"},
        {"a.bpmn": b"<a/><b/>", "b.bpmn": b""},
    ],
)
def test_content_hash_changes_when_any_name_or_byte_changes(changed):
    assert content_hash(changed) != content_hash({"a.bpmn": b"<a/>", "b.bpmn": b"<b/>"})


def test_parsed_process_content_hash_is_that_of_its_files():
    parsed = parse_process("demo", {"demo.bpmn": VALID})

    assert parsed.content_hash == content_hash({"demo.bpmn": VALID})


def test_content_hash_differs_when_bytes_move_between_files():
    # UTF-16 BPMN files contain NUL bytes, so the separator alone does not delimit files.
    one_file = {"a.bpmn": b"<a/>\0b.bpmn\0<b/>"}
    two_files = {"a.bpmn": b"<a/>", "b.bpmn": b"<b/>"}

    assert content_hash(one_file) != content_hash(two_files)
