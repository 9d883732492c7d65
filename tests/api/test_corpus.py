"""The corpus of tests/corpus/: models written in the styles of Camunda Modeler 7, Flowable,
bpmn.io, Signavio and SpiffArena. Each is deployed through the API as its modeler saved it and
runs to its end, or is refused with a problem naming its file, line and element.
"""

import io
from dataclasses import dataclass, field
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from engine import clock
from engine.bpmn import cron
from engine.instances.models import ProcessInstance
from tests.api.support import (
    assert_problem,
    complete_ok,
    drain,
    get_instance,
    inbox,
    scalar,
    start,
)
from tests.conftest import ROOT
from workers import jobs

CORPUS = ROOT / "tests" / "corpus"


@dataclass(frozen=True)
class Run:
    key: str  # the offering key FlowDesk derives from the process id
    process_id: str
    steps: list = field(default_factory=list)  # (bpmn_id, username, data), in order
    start_data: dict = field(default_factory=dict)
    starter: str = "requester"
    end: str | None = None


RUNS = {
    "camunda_purchase_approval.bpmn": Run(
        "process_1",
        "Process_1",
        [("Task_approve", "manager", {"approved": True, "comment": "Buy it"})],
        end="EndEvent_approved",
    ),
    "camunda-testing-job-announcement.bpmn": Run(
        "camunda_testing_job_announcement",
        "camunda-testing-job-announcement",
        [("edit", "requester", {}), ("review", "manager", {})],
        end="published",
    ),
    "flowable_leave_request.bpmn20.xml": Run(
        "leaverequest",
        "leaveRequest",
        [("approveLeave", "manager", {"approved": True})],
        start_data={"days": 3, "reason": "Family"},
        end="granted",
    ),
    "bpmnio_cabling_checklist.bpmn": Run(
        "process_0x7ahd2",
        "Process_0x7ahd2",
        [  # a bpmn:task without a type is a step for a person, as in SpiffWorkflow
            ("Activity_0lbv5k2", "it_agent", {}),
            ("Activity_1pz3sqj", "it_agent", {}),
            ("Activity_0h2", "it_agent", {}),
        ],
        end="Event_0x9",
    ),
    "spiffarena_greeting.bpmn": Run(
        "process_greeting_a8f2k1q",
        "Process_greeting_a8f2k1q",
        [("Activity_read_greeting", "it_agent", {})],
        end="Event_0ukt3xi",
    ),
    "signavio_sid_ids.bpmn": Run(
        "sid_5b7e1f3a_2c4d_4e8f_9a0b_1c2d3e4f5a6b",
        "sid-5B7E1F3A-2C4D-4E8F-9A0B-1C2D3E4F5A6B",
        end="sid-D4",
    ),
    "camunda_windows1252_cafe.bpmn": Run(
        "reservierung_caf",
        "Reservierung_Café",
        [("Bestätigen", "manager", {})],
        end="Ende",
    ),
    "camunda_utf16_order_routing.bpmn": Run("order_routing", "order_routing", end="big"),
    "camunda_dish_decision": Run("dinner", "dinner", end="EndEvent_stew"),  # BPMN + DMN bundle
    "camunda_cron_reminder.bpmn": Run(  # its cron cycle fires in the test below
        "process_reminder",
        "Process_reminder",
        [("Task_review", "manager", {})],
        end="EndEvent_reviewed",
    ),
    "bpmnio_two_pools_messages.bpmn": Run(  # two executable pools and message flows between
        "collaboration_order",
        "Collaboration_order",
        [("Activity_pack", "it_agent", {})],
        end=None,
    ),
}

# file -> (element id, text on the line the problem names, words of its message)
REFUSALS = {
    "refused_camunda_java_delegate.bpmn": (
        "Task_archive",
        '<bpmn:serviceTask id="Task_archive"',
        "camunda:class is a Java delegate, which cannot run in FlowDesk",
    ),
    "refused_camunda_delegate_expression.bpmn": (
        "Task_charge",
        '<bpmn:serviceTask id="Task_charge"',
        "camunda:delegateExpression is a Java delegate",
    ),
    "refused_camunda_listener.bpmn": (
        "Task_review",
        "<camunda:taskListener",
        "a taskListener cannot run in FlowDesk",
    ),
    "refused_camunda_embedded_form.bpmn": (
        "Task_form",
        '<bpmn:userTask id="Task_form"',
        "formKey 'embedded:app:forms/request.html' names no form of the registry",
    ),
    "refused_camunda_dmn_rule.bpmn": (
        "Task_dish",
        '<bpmn:businessRuleTask id="Task_dish"',
        "decision 'dish' is in no DMN file of the bundle (found: none)",
    ),
    "refused_juel_method_call.bpmn": (
        "Flow_2",
        "${invoiceService.isValid(invoice)}",
        "method and function calls (isValid(...)) are not translated",
    ),
    "refused_conditional_event_execution.bpmn": (
        "Event_stock",
        '${execution.getVariable("stock")',
        "'execution' is Camunda's Java API",
    ),
    "refused_cron_cycle.bpmn": (
        "Event_weekday",
        "0 0 9 ? * MON-FRI 2026/2",
        "cron cycle '0 0 9 ? * MON-FRI 2026/2': year '2026/2' must be * or a year range",
    ),
    "refused_bpmnio_unreachable_subprocess.bpmn": (
        "Activity_1loose",
        '<bpmn:subProcess id="Activity_1loose"',
        "no sequence flow reaches this element",
    ),
    "refused_start_without_flow.bpmn": (
        "StartEvent_lonely",
        '<bpmn:startEvent id="StartEvent_lonely"',
        "this start event has no outgoing sequence flow",
    ),
    "refused_recursive_call.bpmn": (
        "Activity_escalate_again",
        '<bpmn:callActivity id="Activity_escalate_again"',
        "endless recursion",
    ),
    "refused_spiffarena_data_store.bpmn": (
        "Activity_book",
        '<bpmn:scriptTask id="Activity_book"',
        "'DataStoreReference_ledger' is a data store: FlowDesk has no data stores",
    ),
    "refused_bpmnio_complex_gateway.bpmn": (
        "Gateway_0cx",
        '<bpmn:complexGateway id="Gateway_0cx"',
        "FlowDesk cannot run a bpmn:complexGateway",
    ),
    "refused_spiffarena_open_file.bpmn": (
        "Activity_read",
        '<bpmn:scriptTask id="Activity_read"',
        "'open' is not available in the script sandbox",
    ),
}


def test_corpus_lists_every_file_once():
    assert sorted(RUNS) + sorted(REFUSALS) and {p.name for p in CORPUS.iterdir()} == set(
        RUNS
    ) | set(REFUSALS)


def upload(api, name: str, **query):
    if (CORPUS / name).is_dir():  # a bundle: its files as multipart 'file' fields
        files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted((CORPUS / name).iterdir())]
        return api.post(
            "/api/v1/processes", data={"file": files}, content_type="multipart/form-data"
        )
    content = (CORPUS / name).read_bytes()
    return api.post(
        "/api/v1/processes",
        query_string={"filename": name, **query},
        data=content,
        content_type="application/xml",
    )


@pytest.mark.parametrize("name", sorted(RUNS))
def test_corpus_file_deploys_and_runs_to_its_end(app, as_user, name):
    run = RUNS[name]
    deployed = upload(as_user("designer"), name)
    assert deployed.status_code == 201, deployed.get_data(as_text=True)
    body = deployed.get_json()
    assert (body["process_key"], body["process_id"]) == (run.key, run.process_id)

    started = start(as_user(run.starter), run.key, run.start_data)
    assert started.status_code == 201, started.get_data(as_text=True)
    instance_id = started.get_json()["id"]
    for bpmn_id, username, data in run.steps:
        drain(app)
        worker = as_user(username)
        (task,) = [
            t for t in inbox(worker) if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id
        ]
        complete_ok(worker, task["task_id"], data)
    drain(app)

    instance = get_instance(as_user("admin"), instance_id)
    assert instance["status"] == "complete", instance["events"]
    (ended,) = [e for e in instance["events"] if e["kind"] == "completed"]
    assert ended["bpmn_id"] == run.end  # None: the pools of a collaboration end each their own


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_corpus_file_is_refused_naming_file_line_and_element(app, as_user, name):
    element_id, marker, message = REFUSALS[name]
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    line = next(number for number, text in enumerate(lines, 1) if marker in text)

    problems = assert_problem(upload(as_user("designer"), name), 422, "invalid_process")["problems"]

    assert {"file": name, "line": line, "id": element_id} in [
        {k: p[k] for k in ("file", "line", "id")} for p in problems
    ], problems
    assert any(message in p["message"] for p in problems if p["id"] == element_id), problems


def test_corpus_cron_cycle_fires_at_its_times_and_once_when_overdue(app, as_user, monkeypatch):
    """Camunda's `0 0 9 ? * MON-FRI` on a non-interrupting boundary timer: weekdays at nine in
    the business zone; days of fires missed while nothing ran fire once; the request then ends."""
    deployed = upload(as_user("designer"), "camunda_cron_reminder.bpmn")
    assert deployed.status_code == 201, deployed.get_data(as_text=True)
    started = start(as_user("requester"), "process_reminder", {})
    assert started.status_code == 201, started.get_data(as_text=True)
    instance_id = started.get_json()["id"]
    drain(app)

    def next_timer_at():
        query = select(ProcessInstance.next_timer_at).where(ProcessInstance.id == instance_id)
        return scalar(app, query).replace(tzinfo=UTC)

    def wake_at(moment):
        monkeypatch.setattr(cron, "_now", lambda: moment)
        with app.app_context():
            jobs.wake(instance_id, dispatch=app.extensions["flowdesk"].dispatch)
        drain(app)

    def fired() -> int:
        events = get_instance(as_user("admin"), instance_id)["events"]
        return len([e for e in events if e["kind"] == "timer_fired"])

    due = next_timer_at()
    local = due.astimezone(clock.zone())
    assert (local.hour, local.minute, local.second) == (9, 0, 0) and local.weekday() < 5
    wake_at(due - timedelta(seconds=1))
    assert fired() == 0

    wake_at(due + timedelta(seconds=1))
    assert fired() == 1
    following = next_timer_at()
    assert following.astimezone(clock.zone()).hour == 9 and following > due

    overdue = following + timedelta(days=3)  # everything was down over three weekday nines
    wake_at(overdue)
    wake_at(overdue + timedelta(seconds=1))
    assert fired() == 2
    assert next_timer_at() > overdue

    manager = as_user("manager")
    (task,) = [t for t in inbox(manager) if t["instance_id"] == instance_id]
    complete_ok(manager, task["task_id"], {})
    drain(app)
    instance = get_instance(as_user("admin"), instance_id)
    assert instance["status"] == "complete", instance["events"]
    (ended,) = [e for e in instance["events"] if e["kind"] == "completed"]
    assert ended["bpmn_id"] == "EndEvent_reviewed"
