"""Structural checks SpiffWorkflow does not make: unreachable elements, dead starts, recursion.

SpiffWorkflow runs a disconnected element never and reports the instance complete, and a call
activity that calls its own process recurses until the interpreter gives up. Both are refused at
deploy, naming the element.
"""

from engine.bpmn.dialects import BPMN, q

FLOW_NODES = {
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "complexGateway", "intermediateCatchEvent", "intermediateThrowEvent", "endEvent",
    "startEvent", "boundaryEvent",
}  # fmt: skip
SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")


def check(name: str, tree, problems: list) -> None:
    """Add a problem for every element no flow reaches and every start that leads nowhere."""
    for scope in tree.iter(*(q(BPMN, s) for s in SCOPES)):
        if scope.get("isExecutable") != "false":
            _check_scope(name, scope, problems)


def _local(element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _check_scope(name: str, scope, problems: list) -> None:
    if _local(scope) == "adHocSubProcess":
        return  # its activities run in any order, none needs a flow
    nodes = {n.get("id"): n for n in scope if _local(n) in FLOW_NODES and n.get("id")}
    outgoing: dict[str, list[str]] = {}
    has_incoming = set()
    for flow in scope.iterfind(q(BPMN, "sequenceFlow")):
        outgoing.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
        has_incoming.add(flow.get("targetRef"))
    starts = [i for i, n in nodes.items() if _local(n) == "startEvent"]
    roots = starts or [
        i for i in nodes if i not in has_incoming and _local(nodes[i]) != "boundaryEvent"
    ]
    for start in starts:
        if not outgoing.get(start) and len(nodes) > 1:
            _add(problems, name, nodes[start], "this start event has no outgoing sequence flow")
    attached: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        if _local(node) == "boundaryEvent":
            attached.setdefault(node.get("attachedToRef"), []).append(node_id)
        if node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true":
            roots.append(node_id)
    reached, queue = set(), list(roots)
    while queue:
        node_id = queue.pop()
        if node_id in reached:
            continue
        reached.add(node_id)
        queue.extend(outgoing.get(node_id, []))
        queue.extend(attached.get(node_id, []))
    for node_id, node in nodes.items():
        if node_id not in reached:
            message = "no sequence flow reaches this element: connect or remove it"
            _add(problems, name, node, message)


def check_recursion(trees: dict, problems: list) -> None:
    """Add a problem for every call activity that calls its own process, directly or not."""
    calls: dict[str, list[tuple[str, object]]] = {}
    for name, tree in trees.items():
        for process in tree.iterfind(q(BPMN, "process")):
            for call in process.iter(q(BPMN, "callActivity")):
                target = call.get("calledElement")
                if target:
                    calls.setdefault(process.get("id"), []).append((target, (name, call)))
    for process_id, edges in calls.items():
        for target, (name, call) in edges:
            if _reaches(calls, target, process_id):
                message = f"calls '{target}', which calls '{process_id}' again: endless recursion"
                _add(problems, name, call, message)


def _reaches(calls: dict, start: str, goal: str) -> bool:
    seen, queue = set(), [start]
    while queue:
        current = queue.pop()
        if current == goal:
            return True
        if current in seen:
            continue
        seen.add(current)
        queue.extend(target for target, _where in calls.get(current, []))
    return False


def _add(problems: list, name: str, element, message: str) -> None:
    problems.append(
        {"file": name, "line": element.sourceline, "id": element.get("id"), "message": message}
    )
