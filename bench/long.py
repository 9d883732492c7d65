"""(l) A step late in a long instance: step 500 against step 10 (PRODUCT.md: <= 2x).

The model, bench/long_checklist.bpmn: one person checks an item per pass of a gateway loop
(check -> count -> more? -> check ...), 510 passes. Every pass stays in SpiffWorkflow's task tree,
one level deeper each time, so each step has more tree to walk, store and load.

- bare: the model in bare SpiffWorkflow with a full serialize/deserialize around each step, as
  (b). The library's task iterators stop at depth 1000 (pass 333 here, NOTES.md 9.2); the bare run
  raises that limit as engine/loops.py does, or it could not reach pass 500 at all.
- FlowDesk: a throwaway platform as (c) (gunicorn, SQLite, Redis, RQ workers). The designer
  deploys the model through the API, the requester starts it, it_agent completes each pass with
  POST /api/v1/tasks/<id>/complete and takes the next task id from the answer.

"step 10" and "step 500" are the medians of passes 6-15 and 496-505.
"""

import sqlite3
import statistics
import time
from contextlib import closing
from pathlib import Path

import requests
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from bench import bare, stack
from engine.bpmn.loops import lift_depth_limit

MODEL = Path(__file__).with_name("long_checklist.bpmn")
KEY = "long_checklist"
PASSES = 510  # as `total` in the model
EARLY, LATE = range(5, 15), range(495, 505)  # passes 6-15 and 496-505, 0-based
TARGET_RATIO = 2.0


def _medians(seconds: list[float]) -> dict:
    early = statistics.median(seconds[i] for i in EARLY) * 1e3
    late = statistics.median(seconds[i] for i in LATE) * 1e3
    return {"step10_ms": early, "step500_ms": late, "ratio": late / early}


def run_bare() -> dict:
    lift_depth_limit()  # a library setting, not platform code: bare stays bare
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(MODEL))
    spec, subprocess_specs = parser.get_spec(KEY), parser.get_subprocess_specs(KEY)
    engine, serializer = PythonScriptEngine(), bare.full_serializer()
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    workflow.do_engine_steps()
    text = serializer.serialize_json(workflow)
    seconds = []
    for _ in range(PASSES):
        t0 = time.perf_counter()
        workflow = serializer.deserialize_json(text)
        workflow.script_engine = engine
        task = workflow.get_next_task(state=TaskState.READY, manual=True, spec_name="check")
        task.run()
        workflow.do_engine_steps()
        text = serializer.serialize_json(workflow)
        seconds.append(time.perf_counter() - t0)
    if not workflow.is_completed() or workflow.data.get("passes") != PASSES:
        raise RuntimeError(f"bare long run ended after {workflow.data.get('passes')} passes")
    return {**_medians(seconds), "json_bytes": len(text)}


def run_platform(args, log) -> dict:
    platform = stack.Stack(
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        rq_workers=args.rq_workers,
        keep=args.keep,
    )
    try:
        platform.start(log=log)
        base = platform.base_url + "/api/v1"
        users = {}
        for user in ("designer", "requester", "it_agent"):
            users[user] = requests.Session()
            users[user].headers["Authorization"] = f"Bearer demo-{user}"
        deployed = users["designer"].post(
            f"{base}/processes/{KEY}/versions",
            data=MODEL.read_bytes(),
            headers={"Content-Type": "application/xml"},
        )
        deployed.raise_for_status()
        answer = users["requester"].post(f"{base}/instances", json={"offering": KEY, "data": {}})
        answer.raise_for_status()
        instance = answer.json()
        seconds = []
        for done in range(PASSES):
            if not instance["open_tasks"]:
                raise RuntimeError(f"no open step after {done} passes: {instance['status']}")
            task_id = instance["open_tasks"][0]["task_id"]
            t0 = time.perf_counter()
            answer = users["it_agent"].post(f"{base}/tasks/{task_id}/complete", json={"data": {}})
            seconds.append(time.perf_counter() - t0)
            answer.raise_for_status()
            instance = answer.json()
        if instance["status"] != "complete" or instance["data"].get("passes") != PASSES:
            raise RuntimeError(f"the long instance ended {instance['status']}: {instance['data']}")
        platform.stop()
        with closing(sqlite3.connect(platform.db_path)) as conn:
            (stored,) = conn.execute(
                "SELECT length(workflow_json) FROM process_instance WHERE id = ?",
                (instance["id"],),
            ).fetchone()
        return {**_medians(seconds), "workflow_json_bytes": stored}
    finally:
        platform.cleanup()


def run(args, log) -> dict:
    log()
    log(f"(l) a step late in a long instance: {PASSES} passes of a gateway loop ({MODEL.name})")
    out = {"bare": run_bare()}
    b = out["bare"]
    log(
        f"  bare, save/load per step   step 10 {b['step10_ms']:6.1f} ms   step 500"
        f" {b['step500_ms']:6.1f} ms   x{b['ratio']:.1f}   JSON at the end {b['json_bytes']:,} B"
    )
    out["platform"] = run_platform(args, log)
    p = out["platform"]
    log(
        f"  FlowDesk, complete via API step 10 {p['step10_ms']:6.1f} ms   step 500"
        f" {p['step500_ms']:6.1f} ms   x{p['ratio']:.1f}   stored workflow"
        f" {p['workflow_json_bytes']:,} B (deflated)"
    )
    return out


def summary_rows(out: dict) -> list[tuple]:
    p, b = out["platform"], out["bare"]
    return [
        (
            "step 500 vs step 10",
            f"x{p['ratio']:.1f} ({p['step10_ms']:.0f} -> {p['step500_ms']:.0f} ms)",
            f"<= {TARGET_RATIO:g}x",
            "yes" if p["ratio"] <= TARGET_RATIO else "NO",
            f"bare with save/load: x{b['ratio']:.1f} ({b['step10_ms']:.1f} ->"
            f" {b['step500_ms']:.1f} ms)",
        )
    ]
