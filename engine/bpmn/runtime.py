"""Pure functions on a workflow: start, run, complete steps, read its state. No Flask, no DB.

This module and specs/serializer/scripting are the only places that see SpiffWorkflow objects;
everything they hand out is plain data (dataclasses, dicts, strings).
"""

import enum
import re
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.durations import is_duration
from engine.bpmn.loops import RunawayRun, RunBudget, lift_depth_limit
from engine.bpmn.scripting import RestrictedScriptEngine
from engine.bpmn.specs import ExternalServiceTask
from engine.errors import Conflict, NotFound, ProcessFailed

# What SpiffWorkflow 3.2.0 raises from inside a step besides its own exceptions: a multi-instance
# over a number, a cardinality that is text, a timer that is not a string (NOTES, tests).
LIBRARY_ERRORS = (TypeError, ValueError, LookupError, AttributeError, ArithmeticError)
lift_depth_limit()  # else a gateway loop's 334th pass is silently dropped (engine/loops.py)
SCRIPT_ENGINE = RestrictedScriptEngine()
_SLUG = re.compile(r"[^a-z0-9]+")


class InstanceStatus(enum.StrEnum):
    RUNNING = "running"  # a job will advance it
    USER_INPUT_REQUIRED = "user_input_required"
    WAITING = "waiting"  # timer or message
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED


FINISHED = (InstanceStatus.COMPLETE, InstanceStatus.CANCELLED)


@dataclass(frozen=True)
class OpenStep:
    """A READY user or manual task, as the inbox projection needs it."""

    task_id: str
    bpmn_id: str
    name: str
    lane: str | None
    candidate_group: str | None
    form_key: str | None
    instructions: str | None
    due_in: str | None
    candidate_groups: tuple[str, ...] = ()  # every group that may work it (Camunda's list)
    candidate_users: tuple[str, ...] = ()  # usernames that may work it
    assignee: str | None = None  # the username it is assigned to when it opens
    priority: int | None = None
    due_date: str | None = None  # an ISO date-time with offset (Camunda's dueDate)


@dataclass(frozen=True)
class PendingJob:
    """A STARTED service task whose operation has not been handed to a worker yet."""

    task_id: str
    bpmn_id: str
    operation: str
    params: dict
    max_attempts: int | None  # from the spiff `retry` extension: retries + 1
    backoff_base: float | None


def new_workflow(spec, subprocess_specs: dict, data: dict) -> BpmnWorkflow:
    """Create a workflow with `data` on its start task; nothing runs yet."""
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE)
    workflow.get_next_task(state=TaskState.READY).data.update(data)
    return workflow


def start(spec, subprocess_specs: dict, data: dict) -> BpmnWorkflow:
    """Create a workflow with `data` on its start task, and run it until it blocks."""
    workflow = new_workflow(spec, subprocess_specs, data)
    run_until_blocked(workflow)
    return workflow


def run_until_blocked(workflow: BpmnWorkflow) -> None:
    """Run engine steps until the instance needs a person, a worker, a timer, or is done.

    Raises:
        ProcessFailed: a script, condition or expression failed; the step is left in ERROR.
    """
    budget = RunBudget()
    running: list = []
    try:
        workflow.refresh_timers()
        workflow.do_engine_steps(will_complete_task=running.append, did_complete_task=budget.count)
    except RunawayRun as exc:
        raise ProcessFailed(
            f"step '{exc.bpmn_id}' ran {exc.steps} engine steps ({exc.cpu_seconds:.1f} s of CPU)"
            " without waiting for a person, a worker or a timer: an endless loop in the process?",
            bpmn_id=exc.bpmn_id,
            error_type="RunawayRun",
        ) from exc
    except WorkflowTaskException as exc:
        if exc.task is not None and exc.task.state != TaskState.ERROR:
            exc.task._set_state(
                TaskState.ERROR
            )  # e.g. a timer whose expression failed stays FUTURE
        raise _process_failed(exc) from exc
    except (SpiffWorkflowException, *LIBRARY_ERRORS) as exc:
        task = _raising_task(exc) or (running[-1] if running else _busiest(workflow))
        raise _step_failed(exc, task) from exc


def _run_task(task) -> None:
    """Run one task (a person's step being completed); its errors fail the step, never escape."""
    try:
        task.run()
    except WorkflowTaskException as exc:
        if exc.task is None:
            exc.task = task
        _mark_error(exc.task)
        raise _process_failed(exc) from exc
    except (SpiffWorkflowException, *LIBRARY_ERRORS) as exc:
        raise _step_failed(exc, task) from exc


def _raising_task(exc: BaseException):
    """The innermost task the library was working on when it raised, read off the traceback.

    Completing one task readies the next: a multi-instance whose collection is a number fails
    while its predecessor completes, and it is the multi-instance that failed.
    """
    found, frame = None, exc.__traceback__
    while frame is not None:
        names = frame.tb_frame.f_locals
        for name in ("my_task", "task", "self"):
            if isinstance(names.get(name), Task) and getattr(
                names[name].task_spec, "bpmn_id", None
            ):
                found = names[name]
                break
        frame = frame.tb_next
    return found


def _busiest(workflow: BpmnWorkflow):
    """The task the library was most likely working on when it raised (a timer being armed)."""
    tasks = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
    tasks = [t for t in tasks if not t.task_spec.manual and getattr(t.task_spec, "bpmn_id", None)]
    return max(tasks, key=lambda t: t.last_state_change) if tasks else None


def _mark_error(task) -> None:
    if task is not None and task.state != TaskState.ERROR:
        task._set_state(TaskState.ERROR)  # so the instance shows error and the step can be retried


def _step_failed(exc: BaseException, task) -> ProcessFailed:
    """A library error inside a step: the step fails with the library's message."""
    _mark_error(task)
    bpmn_id = getattr(task.task_spec, "bpmn_id", None) if task is not None else None
    detail = str(exc).split("\n")[0].strip() or type(exc).__name__
    return ProcessFailed(
        f"step '{bpmn_id}' failed: {type(exc).__name__}: {detail}",
        bpmn_id=bpmn_id,
        task_id=str(task.id) if task is not None else None,
        error_type=type(exc).__name__,
    )


def _process_failed(exc: WorkflowTaskException) -> ProcessFailed:
    spec = exc.task_spec or (exc.task.task_spec if exc.task else None)
    bpmn_id = getattr(spec, "bpmn_id", None)
    detail = str(exc).split("\n")[0]
    return ProcessFailed(
        f"step '{bpmn_id}' failed: {detail}",
        bpmn_id=bpmn_id,
        task_id=str(exc.task.id) if exc.task is not None else None,
        error_type=getattr(exc, "error_type", None) or type(exc.__cause__).__name__,
        line=getattr(exc, "line_number", None) or None,
        task_trace=WorkflowTaskException.get_task_trace(exc.task) if exc.task else [],
    )


def open_steps(workflow: BpmnWorkflow) -> list[OpenStep]:
    """Return every READY user/manual task, with its candidate group resolved."""
    steps = []
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        spec = task.task_spec
        props = spec.extensions.get("properties", {})
        steps.append(
            OpenStep(
                task_id=str(task.id),
                bpmn_id=spec.bpmn_id,
                name=spec.bpmn_name or spec.bpmn_id,
                lane=spec.lane,
                candidate_group=_candidate_group(task, props),
                form_key=props.get("form") or None,
                instructions=spec.extensions.get("instructionsForEndUser"),
                due_in=props.get("due_in"),
                candidate_groups=_names(task, props.get("candidate_groups")),
                candidate_users=_names(task, props.get("candidate_users")),
                assignee=next(iter(_names(task, props.get("assignee"))), None),
                priority=_priority(task, props.get("priority")),
                due_date=next(iter(_names(task, props.get("due_date"))), None),
            )
        )
    return steps


def _names(task, text: str | None) -> tuple[str, ...]:
    """A comma list of literals and `$name`s (read from the task's data) -> the values."""
    values = []
    for item in (text or "").split(","):
        item = item.strip()
        value = task.data.get(item[1:]) if item.startswith("$") else item
        if isinstance(value, list | tuple):
            values.extend(str(v) for v in value if v not in (None, ""))
        elif value not in (None, ""):
            values.extend(v.strip() for v in str(value).split(",") if v.strip())
    return tuple(dict.fromkeys(values))


def _priority(task, text: str | None) -> int | None:
    value = next(iter(_names(task, text)), None)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # a camunda:properties "priority" such as "high" is not ours


def _candidate_group(task, props: dict) -> str | None:
    if props.get("candidate_group"):
        return props["candidate_group"]
    if props.get("candidate_group_expression"):
        try:
            group = task.workflow.script_engine.evaluate(task, props["candidate_group_expression"])
        except WorkflowTaskException as exc:
            raise _process_failed(exc) from exc
        return str(group)
    lane = task.task_spec.lane
    return _SLUG.sub("_", lane.lower()).strip("_") if lane else None


def complete_step(workflow: BpmnWorkflow, task_id: str, data: dict) -> None:
    """Complete a READY user/manual task with validated form data, then run on.

    Raises:
        NotFound: no such task in this instance.
        Conflict: the task is not an open user step (already done, cancelled, not manual).
    """
    task = _task(workflow, task_id)
    if task.state != TaskState.READY or not task.task_spec.manual:
        state = TaskState.get_name(task.state).lower()
        raise Conflict(f"step {task_id} is not open (it is {state})")
    task.data.update(data)
    _run_task(task)
    run_until_blocked(workflow)


def retry_step(workflow: BpmnWorkflow, task_id: str, changes: dict) -> None:
    """Run a failed engine step again, with `changes` in its data; a person's step reopens.

    Raises:
        Conflict: the step has not failed.
        ProcessFailed: it fails again.
    """
    task = _task(workflow, task_id)
    if task.state != TaskState.ERROR:
        state = TaskState.get_name(task.state).lower()
        raise Conflict(f"step {task_id} has not failed (it is {state})")
    task.data.update(changes)
    if task.parent is not None:  # a step takes its data from its parent when it is readied
        task.parent.data.update(changes)
    task._set_state(TaskState.FUTURE)  # from the start: a multi-instance makes its children again
    try:
        task.task_spec._update(task)
    except WorkflowTaskException as exc:
        _mark_error(exc.task or task)
        raise _process_failed(exc) from exc
    except (SpiffWorkflowException, *LIBRARY_ERRORS) as exc:
        raise _step_failed(exc, _raising_task(exc) or task) from exc
    run_until_blocked(workflow)


def _task(workflow: BpmnWorkflow, task_id: str):
    try:
        return workflow.get_task_from_id(UUID(str(task_id)))
    except (TaskNotFoundException, ValueError) as exc:
        raise NotFound(f"step {task_id}") from exc


def pending_jobs(workflow: BpmnWorkflow) -> list[PendingJob]:
    """Return service tasks waiting to be handed to a worker, and mark them handed over."""
    jobs = []
    for task in workflow.get_tasks(state=TaskState.STARTED, spec_class=ExternalServiceTask):
        job = task.internal_data.get("job", {})
        if job.get("status") == "pending":
            job["status"] = "queued"
            spec = task.task_spec
            retries = spec.retries if isinstance(spec.retries, int) and spec.retries >= 0 else None
            jobs.append(
                PendingJob(
                    str(task.id),
                    spec.bpmn_id,
                    job["operation"],
                    job["params"],
                    max_attempts=None if retries is None else retries + 1,
                    backoff_base=spec.retry_backoff_base or None,
                )
            )
    return jobs


def complete_service_step(workflow: BpmnWorkflow, task_id: str, result) -> bool:
    """Store a worker's result on its STARTED service task and run on.

    Returns False (and changes nothing) when the step is no longer waiting for that result, so
    duplicate or late deliveries are harmless.
    """
    task = _task(workflow, task_id)
    if task.state != TaskState.STARTED or not isinstance(task.task_spec, ExternalServiceTask):
        return False
    task.data[task.task_spec.result_variable] = result
    task.internal_data["job"]["status"] = "done"
    task.complete()
    run_until_blocked(workflow)
    return True


def correct_service_step(workflow: BpmnWorkflow, task_id: str, changes: dict) -> dict:
    """Change the data a STARTED service task reads, and return its parameters evaluated anew.

    The changed values stay on the task, so the steps after it see the corrected data too.

    Raises:
        Conflict: the step is not a service task waiting for its worker.
        ProcessFailed: a parameter expression fails on the corrected data.
    """
    task = _task(workflow, task_id)
    if task.state != TaskState.STARTED or not isinstance(task.task_spec, ExternalServiceTask):
        raise Conflict(f"step {task_id} is not waiting for a worker")
    task.data.update(changes)
    try:
        params = {
            name: workflow.script_engine.evaluate(task, param["value"])
            for name, param in task.task_spec.operation_params.items()
        }
    except WorkflowTaskException as exc:
        raise _process_failed(exc) from exc
    task.internal_data["job"]["params"] = params
    return params


def step_data(workflow: BpmnWorkflow, task_id: str, names: tuple[str, ...]) -> dict:
    """The values of `names` as one task sees them (what a service task's parameters read)."""
    task = _task(workflow, task_id)
    return {name: task.data.get(name) for name in names}


def throw_error(workflow: BpmnWorkflow, task_id: str, code: str, payload: dict) -> bool:
    """Throw a BPMN error at a STARTED service task; True if a boundary event caught it."""
    task = _task(workflow, task_id)
    if task.state != TaskState.STARTED:
        return False
    event = BpmnEvent(ErrorEventDefinition(code, code=code), payload=payload, target=task.workflow)
    workflow.catch(event)
    run_until_blocked(workflow)  # the boundary event runs (and cancels the task) only here
    return task.state != TaskState.STARTED


def fire_timers(workflow: BpmnWorkflow) -> list[str]:
    """Let due timers fire and run on; return the BPMN ids of the timers that fired.

    The library only checks timers when asked (refresh_timers), which run_until_blocked does.
    A cycle timer stays waiting when it fires: it fired when it gained a child.
    """
    waiting = {
        t.id: len(t.children)
        for t in workflow.get_tasks(state=TaskState.WAITING)
        if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
    }
    run_until_blocked(workflow)
    return [
        t.task_spec.bpmn_id
        for t in workflow.get_tasks()
        if t.id in waiting and (t.state == TaskState.COMPLETED or len(t.children) > waiting[t.id])
    ]


def cancel(workflow: BpmnWorkflow) -> None:
    """Cancel every unfinished task."""
    workflow.cancel()


def status_of(workflow: BpmnWorkflow) -> InstanceStatus:
    """Derive the instance status from the task tree."""
    if workflow.is_completed():
        return InstanceStatus.COMPLETE
    if workflow.get_tasks(state=TaskState.ERROR):
        return InstanceStatus.ERROR
    if workflow.get_tasks(state=TaskState.READY, manual=True):
        return InstanceStatus.USER_INPUT_REQUIRED
    if workflow.get_tasks(state=TaskState.STARTED, spec_class=ExternalServiceTask):
        return InstanceStatus.RUNNING
    if workflow.get_tasks(state=TaskState.READY):
        return InstanceStatus.RUNNING
    return InstanceStatus.WAITING


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    """Return when the earliest waiting timer falls due (UTC), or None."""
    due = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        value = task.internal_data.get("event_value")
        if isinstance(value, str):
            try:
                due.append(TimerEventDefinition.parse_time_or_duration(value))
            except (ValueError, TypeError):
                continue
        elif isinstance(value, dict) and value.get("cycles") != 0 and value.get("next"):
            due.append(datetime.fromisoformat(value["next"]))
    if not due:
        return None
    return min(d if d.tzinfo else d.replace(tzinfo=UTC) for d in due).astimezone(UTC)


def due_after(start: datetime, iso_duration: str | None) -> datetime | None:
    """Return `start` plus an ISO 8601 duration (a step's `due_in`), or None without one."""
    if not is_duration(iso_duration):
        return None
    try:
        parsed = TimerEventDefinition.parse_iso_duration(iso_duration)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except (ValueError, TypeError, KeyError):
        return None


def outcome(workflow: BpmnWorkflow) -> tuple[str, str | None] | None:
    """How a completed instance ended: (outcome, reason), or None while it runs.

    The outcome is the `outcome` property of the end event it finished on (done when the end
    event names none); the reason is that end event's `outcome_reason` expression, evaluated on
    the end's data (e.g. the approver's comment).
    """
    if not workflow.is_completed():
        return None
    ends = [
        t
        for t in workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent)
        if t.workflow is workflow
    ]
    if not ends:
        return "done", None
    said = [t for t in ends if _props(t).get("outcome")]  # a reminder's end says nothing
    last = max(said or ends, key=lambda t: t.last_state_change)
    props = _props(last)
    reason = None
    if props.get("outcome_reason"):
        try:
            value = workflow.script_engine.evaluate(last, props["outcome_reason"])
            reason = None if value in (None, "") else str(value)[:2000]
        except WorkflowTaskException:
            reason = None  # a reason that cannot be read does not change how the request ended
    return props.get("outcome") or "done", reason


def _props(task) -> dict:
    return (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})


def end_event(workflow: BpmnWorkflow) -> str | None:
    """The BPMN id of the end event a completed instance finished on."""
    ends = [
        t
        for t in workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent)
        if t.workflow is workflow
    ]
    return max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id if ends else None


def data(workflow: BpmnWorkflow) -> dict:
    """Return the instance's business data: the end data when done, else the merged task data."""
    if workflow.is_completed() and workflow.data:  # a cancelled workflow has no end data
        return dict(workflow.data)
    merged = {}
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        merged.update(task.data)
    return {k: v for k, v in merged.items() if not k.startswith("spiff__")}


_STEP_KINDS = (
    "UserTask",
    "ManualTask",
    "ServiceTask",
    "ExternalServiceTask",
    "CallActivity",
    "SubWorkflowTask",
    "ScriptTask",
    "BusinessRuleTask",
)


def step_states(workflow: BpmnWorkflow) -> dict[str, str]:
    """Map each BPMN element id to 'done', 'current', 'error' or 'cancelled' (for diagrams)."""
    rank = {"cancelled": 0, "done": 1, "current": 2, "error": 3}
    states: dict[str, str] = {}
    for task in workflow.get_tasks():
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        state = _step_state(task.state)
        if state and rank[state] >= rank.get(states.get(bpmn_id, ""), -1):
            states[bpmn_id] = state
    return states


def _step_state(state) -> str | None:
    if state == TaskState.COMPLETED:
        return "done"
    if state in (TaskState.READY, TaskState.STARTED, TaskState.WAITING):
        return "current"
    if state == TaskState.ERROR:
        return "error"
    if state == TaskState.CANCELLED:
        return "cancelled"
    return None


def upcoming_steps(workflow: BpmnWorkflow, limit: int = 12) -> list[dict]:
    """Return the steps that may come next: activities reachable from the current ones.

    A walk over the process graph (nearest first), because SpiffWorkflow predicts nothing
    beyond an undecided gateway. Steps behind a gateway are possibilities, not promises.
    """
    current = [
        t for t in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.WAITING)
    ]
    queue = [spec for task in current for spec in task.task_spec.outputs]
    seen, steps = set(), []
    while queue and len(steps) < limit:
        spec = queue.pop(0)
        if spec.name in seen:
            continue
        seen.add(spec.name)
        queue.extend(spec.outputs)
        if type(spec).__name__ in _STEP_KINDS and getattr(spec, "bpmn_id", None):
            steps.append(
                {
                    "bpmn_id": spec.bpmn_id,
                    "name": spec.bpmn_name or spec.bpmn_id,
                    "lane": spec.lane,
                    "kind": type(spec).__name__,
                }
            )
    return steps


def reserved_keys(data: dict) -> list[str]:
    """The data keys that would shadow script helpers or internals (refused as form fields)."""
    reserved = set(SCRIPT_ENGINE.environment.globals) | {"open_steps"}
    return sorted(k for k in data if k in reserved or k.startswith("_") or k.startswith("spiff__"))


def format_exception(exc: BaseException) -> str:
    """Return a short traceback for the audit trail (no task data)."""
    return "".join(traceback.format_exception(exc, limit=8))[-4000:]
