"""Foreign BPMN at deploy time: encodings, JUEL, Camunda/Flowable attributes, structure."""

import pytest

from engine.bpmn import dmn, documents, runtime
from engine.bpmn.juel import JuelError, to_python
from engine.bpmn.specs import parse_process, readable
from engine.errors import InvalidProcess
from tests.unit.support import SCRIPT_BODY, bpmn, line_of

CAMUNDA_HEAD = bpmn("").replace(
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
    b'                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
)


def camunda(body: str, process_id: str = "demo") -> bytes:
    head, tail = CAMUNDA_HEAD.split(b"</bpmn:process>")
    return (head + body.encode() + b"</bpmn:process>" + tail).replace(
        b'id="demo"', f'id="{process_id}"'.encode()
    )


def problems_of(files: dict, key: str = "demo", **kwargs) -> list[dict]:
    with pytest.raises(InvalidProcess) as caught:
        parse_process(key, files, **kwargs)
    return caught.value.extra["problems"]


USER_TASK = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review" {attributes}>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
"""


@pytest.mark.parametrize(
    ("juel", "python"),
    [
        ("${approved}", "approved"),
        ("${!approved}", "not approved"),
        ("${amount > 1000 && region == 'east'}", "amount > 1000 and region == 'east'"),
        ("#{amount gt 10 or not vip}", "amount > 10 or not vip"),
        ("${empty comment}", "(comment in (None, '', [], {}))"),
        ("${order.total ge 5.5}", 'order["total"] >= 5.5'),
        ('${status eq "done" and x ne null}', "status == 'done' and x != None"),
    ],
)
def test_juel_translates_to_python_when_inside_the_subset(juel, python):
    assert to_python(juel) == python


@pytest.mark.parametrize(
    "juel", ["${execution.getVariable('a')}", "${a ? b : c}", "${bean.check(x)}", "${}"]
)
def test_juel_refuses_expression_when_outside_the_subset(juel):
    with pytest.raises(JuelError):
        to_python(juel)


@pytest.mark.parametrize("encoding", ["windows-1252", "utf-16", "utf-16-be"])
def test_documents_read_the_declared_encoding_and_store_utf8(encoding):
    text = bpmn(SCRIPT_BODY.format(script="name = 'Café Zürich'")).decode()
    declared = text.replace('encoding="UTF-8"', f'encoding="{encoding}"')

    stored = documents.to_utf8("demo.bpmn", declared.encode(encoding))

    assert stored.decode("utf-8") == text
    assert parse_process("demo", {"demo.bpmn": stored}).key == "demo"


def test_documents_keep_utf8_bytes_unchanged_when_already_utf8():
    content = bpmn(SCRIPT_BODY.format(script="x = 1"))

    assert documents.to_utf8("demo.bpmn", content) is content
    assert documents.is_bpmn("invoice.bpmn20.xml") and not documents.is_bpmn("a.xml")


def test_parse_process_takes_any_process_id_when_given_with_the_key():
    document = bpmn(SCRIPT_BODY.format(script="x = 1"), process_id="Process_1")

    parsed = parse_process("process_1", {"p.bpmn": document}, process_id="Process_1")

    assert parsed.key == "process_1" and parsed.meta["process_id"] == "Process_1"


def test_parse_process_maps_camunda_user_task_attributes_to_properties():
    attributes = (
        'camunda:assignee="${initiator}" camunda:candidateGroups="managers, it_leads" '
        'camunda:candidateUsers="hr,alice" camunda:dueDate="P2D" camunda:priority="70" '
        'camunda:formKey="approval"'
    )
    parsed = parse_process("demo", {"d.bpmn": camunda(USER_TASK.format(attributes=attributes))})

    props = parsed.spec.task_specs["review"].extensions["properties"]
    assert props == {
        "assignee": "$initiator",
        "candidate_group": "managers",
        "candidate_groups": "managers,it_leads",
        "candidate_users": "hr,alice",
        "due_in": "P2D",
        "priority": "70",
        "form": "demo.approval",
    }
    assert parsed.meta["initiator_variable"] == "initiator"


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ('camunda:formKey="embedded:app:forms/a.html"', "names no form of the registry"),
        ('camunda:dueDate="next week"', "neither a date-time nor a duration"),
        ('camunda:assignee="${bean.pick(x)}"', "calls"),
        ('camunda:followUpDate="P1D"', "camunda:followUpDate on a userTask cannot be mapped"),
    ],
)
def test_parse_process_names_user_task_when_attribute_cannot_be_mapped(attributes, message):
    document = camunda(USER_TASK.format(attributes=attributes))

    (problem,) = problems_of({"d.bpmn": document})

    assert problem["id"] == "review" and problem["file"] == "d.bpmn"
    assert problem["line"] == line_of(document, '<bpmn:userTask id="review"')
    assert message in problem["message"]


SERVICE_TASK = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="call" name="Call" {attributes}>
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="to">${{email}}</camunda:inputParameter>
        <camunda:inputParameter name="subject">Welcome</camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
"""


def test_parse_process_maps_external_task_topic_to_an_operation():
    document = camunda(
        SERVICE_TASK.format(attributes='camunda:type="external" camunda:topic="mail.send"')
    )

    parsed = parse_process("demo", {"d.bpmn": document})

    spec = parsed.spec.task_specs["call"]
    assert parsed.operation_names() == {"mail.send"}
    assert {k: v["value"] for k, v in spec.operation_params.items()} == {
        "to": "email",
        "subject": "'Welcome'",
    }


@pytest.mark.parametrize(
    "attributes",
    [
        'camunda:class="com.acme.SendMail"',
        'camunda:delegateExpression="${sendMail}"',
        'camunda:expression="${mailer.send(execution)}"',
    ],
)
def test_parse_process_refuses_java_delegate_naming_the_way_out(attributes):
    (problem,) = problems_of({"d.bpmn": camunda(SERVICE_TASK.format(attributes=attributes))})

    assert problem["id"] == "call"
    assert "Java delegate" in problem["message"] and "operation" in problem["message"]


def test_parse_process_translates_juel_condition_on_a_flow():
    body = SCRIPT_BODY.format(script="approved = True").replace(
        '<bpmn:sequenceFlow id="flow_2" sourceRef="calc" targetRef="end" />',
        '<bpmn:sequenceFlow id="flow_2" sourceRef="calc" targetRef="end">'
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${approved &amp;&amp; !x}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>",
    )

    parsed = parse_process("demo", {"d.bpmn": bpmn(body)})
    workflow = runtime.start(parsed.spec, parsed.subprocess_specs, {"x": False})

    assert runtime.status_of(workflow) == runtime.InstanceStatus.COMPLETE


def test_parse_process_refuses_element_no_flow_reaches():
    body = SCRIPT_BODY.format(script="x = 1") + (
        '<bpmn:userTask id="orphan" name="Orphan" /><bpmn:startEvent id="dead_start" />'
    )
    document = bpmn(body)

    problems = problems_of({"d.bpmn": document})

    assert {p["id"] for p in problems} == {"orphan", "dead_start"}
    assert any("no outgoing sequence flow" in p["message"] for p in problems)


def test_parse_process_refuses_call_activity_when_it_recurses():
    body = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="again" calledElement="demo">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="again" />
    <bpmn:sequenceFlow id="f2" sourceRef="again" targetRef="end" />
    """

    problems = problems_of({"d.bpmn": bpmn(body)})

    assert problems[0]["id"] == "again" and "recursion" in problems[0]["message"]


def test_runtime_open_steps_carry_camunda_candidates():
    attributes = (
        'camunda:candidateGroups="managers" camunda:candidateUsers="alice" camunda:priority="5"'
    )
    parsed = parse_process("demo", {"d.bpmn": camunda(USER_TASK.format(attributes=attributes))})
    workflow = runtime.start(parsed.spec, parsed.subprocess_specs, {})

    (step,) = runtime.open_steps(workflow)

    assert step.candidate_group == "managers"
    assert step.candidate_groups == ("managers",) and step.candidate_users == ("alice",)
    assert step.priority == 5


@pytest.mark.parametrize(
    ("feel", "python"),
    [
        ('"A"', '"A"'),
        ("< 10", "? < 10"),
        ("[1..5]", "? >= 1 and ? <= 5"),
        ("]1..5[", "? > 1 and ? < 5"),
        ("-", ""),
        ("", ""),
        ('"A","B"', '(? == "A") or (? == "B")'),
        ('not("A")', 'not (? == "A")'),
        ("true", "True"),
    ],
)
def test_dmn_translates_feel_unary_tests(feel, python):
    assert dmn.unary_test(feel) == python


def test_dmn_refuses_feel_outside_the_subset():
    with pytest.raises(dmn.FeelError):
        dmn.unary_test('date("2024-01-01")')


def test_library_messages_lose_lxml_reprs_and_namespace_uris():
    message = (
        "Cannot resolve dataOutputAssociation <Element {http://www.omg.org/spec/BPMN/20100524/"
        "MODEL}targetRef at 0x7f441f6c0300>. . "
    )

    assert readable(message) == "Cannot resolve dataOutputAssociation bpmn:targetRef."
