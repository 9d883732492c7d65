"""Bare SpiffWorkflow 3.2.0 on the onboarding model, in this process (figures (a) and (b)).

Nothing from engine/ is used: a plain SpiffBpmnParser, a plain PythonScriptEngine whose
TaskDataEnvironment provides `days_before` and runs the service tasks inline through a fake
`call_service` (as in the SpiffWorkflow notes' common.py / q8_perf.py).
"""

import json
import statistics
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from bench.scenario import PROCESS_KEY, USER_STEPS, start_data

ROOT = Path(__file__).resolve().parent.parent
BPMN_FILE = ROOT / "processes" / PROCESS_KEY / f"{PROCESS_KEY}.bpmn"


def days_before(iso_date: str, days: int, at: str = "09:00", tz: str = "+08:00") -> str:
    """Same contract as the platform's script helper (a copy: the bare run imports no engine/)."""
    day = date.fromisoformat(str(iso_date)[:10]) - timedelta(days=int(days))
    return datetime.fromisoformat(f"{day.isoformat()}T{at}:00{tz}").isoformat()


class FakeServicesEnv(TaskDataEnvironment):
    """Service tasks run inline: spiff ServiceTask -> script_engine.call_service -> here."""

    def call_service(self, context, operation_name, operation_params):
        p = {k: v["value"] for k, v in operation_params.items()}
        if operation_name == "directory.create_account":
            return json.dumps(
                {
                    "username": p["username"],
                    "email": f"{p['username']}@example.com",
                    "created": True,
                }
            )
        if operation_name == "directory.grant_vpn":
            return json.dumps({"username": p["username"], "vpn_profile": p["profile"]})
        if operation_name == "mail.send":
            return json.dumps({"sent": False, "reason": "smtp_not_configured"})
        if operation_name == "notify.im":
            return json.dumps({"delivered": False, "reason": "channel_not_configured"})
        raise ValueError(f"unknown operation {operation_name}")


def make_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=FakeServicesEnv({"days_before": days_before}))


def parse():
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN_FILE))
    return parser.get_spec(PROCESS_KEY), parser.get_subprocess_specs(PROCESS_KEY)


def full_serializer() -> BpmnWorkflowSerializer:
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def _start(spec, subprocess_specs, engine, n: int) -> BpmnWorkflow:
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    workflow.get_next_task(state=TaskState.READY).data.update(start_data(f"bare{n:07d}"))
    workflow.do_engine_steps()
    return workflow


def _complete(workflow: BpmnWorkflow, bpmn_id: str, data: dict) -> None:
    task = workflow.get_next_task(state=TaskState.READY, manual=True, spec_name=bpmn_id)
    if task is None:
        raise RuntimeError(f"bare run: step {bpmn_id} is not ready")
    task.set_data(**data)
    task.run()
    workflow.do_engine_steps()


def _check_done(workflow: BpmnWorkflow) -> None:
    if not workflow.is_completed() or "ready_mail" not in workflow.data:
        raise RuntimeError("bare run: the instance did not finish on 'Ready'")


def in_memory(n: int) -> tuple[float, dict]:
    """(a) parse once, run n instances start -> 2 user steps -> end, all in memory."""
    spec, subprocess_specs = parse()
    engine = make_engine()
    t0 = time.perf_counter()
    for i in range(n):
        workflow = _start(spec, subprocess_specs, engine, i)
        for bpmn_id, data in USER_STEPS:
            _complete(workflow, bpmn_id, data)
        _check_done(workflow)
    return time.perf_counter() - t0, {}


def round_trip(n: int) -> tuple[float, dict]:
    """(b) web-app style: serialize after start and after each user step, deserialize before each.

    Full JSON (SPIFF_CONFIG serializer, spec embedded): 3 serialize + 2 deserialize per instance.
    """
    spec, subprocess_specs = parse()
    engine = make_engine()
    serializer = full_serializer()
    sizes = []
    t0 = time.perf_counter()
    for i in range(n):
        workflow = _start(spec, subprocess_specs, engine, i)
        text = serializer.serialize_json(workflow)
        for bpmn_id, data in USER_STEPS:
            workflow = serializer.deserialize_json(text)
            workflow.script_engine = engine
            _complete(workflow, bpmn_id, data)
            text = serializer.serialize_json(workflow)
        _check_done(workflow)
        sizes.append(len(text))
    return time.perf_counter() - t0, {"json_bytes_final": int(statistics.median(sizes))}


def measure(fn, n: int, runs: int, machine_cpu=None) -> dict:
    """Run fn(n) `runs` times; report the median run (wall clock) with its CPU time.

    With `machine_cpu() -> (busy, total)` seconds, also report how many CPUs the rest of the
    machine kept busy during that run (a disturbed run shows up there).
    """
    results = []
    for _ in range(runs):
        busy0 = machine_cpu()[0] if machine_cpu else 0.0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        total, extra = fn(n)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        busy = (machine_cpu()[0] - busy0) if machine_cpu else 0.0
        results.append((total, extra, cpu, max(busy - cpu, 0.0) / wall))
    totals = [r[0] for r in results]
    median_total = statistics.median_low(totals)
    total, extra, cpu, others = results[totals.index(median_total)]
    return {
        "instances": n,
        "runs_s": [round(t, 3) for t in totals],
        "instances_per_s": n / total,
        "ms_per_instance": total / n * 1e3,
        "cpu_ms_per_instance": cpu / n * 1e3,
        "other_cpus": others if machine_cpu else None,
        **extra,
    }
