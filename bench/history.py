"""Latency with a large history: complete a user task, and load the inbox, with many finished
instances in the database (PRODUCT.md: "with 1M finished instances", "inbox ... 1M history, 10k
open, within 1.2x of the same with 10k history").

One throw-away platform (SQLite by default, as the e2e part; `--history-db postgres` for a
throwaway PostgreSQL). Real instances are run first through the API; their rows are then copied
(bench/seed.py) to `--open-tasks` instances waiting at manager_approval (the manager's inbox) and
to `--history-small` finished instances; the latencies are measured; more finished copies are
added up to `--history`; the same latencies are measured again, and the ratios printed.

At each size: the inbox loads first (workers idle), then the onboarding scenario of (c) with 1 and
4 clients, each client going on to its next instance right after its last user step (the workers
finish the service tasks meanwhile; the bench then waits until they are idle).
"""

import atexit
import time

import requests

from bench import e2e, stack
from bench.e2e import percentile
from bench.pg import BenchPostgres
from bench.scenario import PROCESS_KEY, REQUESTER, start_data
from bench.seed import Seeder

INBOX_USER = "manager"  # group `managers`: every copied open task is in this inbox
TARGET_COMPLETE_P95_MS = {1: 25.0, 4: 50.0}  # with 1M finished instances
TARGET_INBOX_P95_MS = 50.0  # top 50, 1M history, 10k open
TARGET_INBOX_RATIO = 1.2  # 1M history vs 10k history
PRODUCT_HISTORY = 1_000_000


def run(args, log, stop) -> dict:
    log()
    db = args.history_db
    log(
        f"(h) latency with history: {args.history_small:,} then {args.history:,} finished"
        f" instances, {args.open_tasks:,} open tasks; gunicorn -w {args.web_workers}"
        f" --threads {args.web_threads}, {args.rq_workers} RQ workers, {db}"
    )
    if args.history < PRODUCT_HISTORY:
        log(
            f"  PRODUCT.md's targets are for {PRODUCT_HISTORY:,} finished instances;"
            f" this run seeds N = {args.history:,} (--history), so they are checked at a smaller N"
        )
    pg = BenchPostgres() if db == "postgres" else None
    if pg is not None:
        atexit.register(pg.stop)
    platform = None
    seeder = None
    out = {"db": db, "levels": []}
    try:
        url = pg.start(log=log) if pg else None
        platform = stack.Stack(
            web_workers=args.web_workers,
            web_threads=args.web_threads,
            rq_workers=args.rq_workers,
            keep=args.keep,
            database_url=url,
        )
        atexit.register(platform.cleanup)
        t0 = time.perf_counter()
        platform.start(log=log)
        log(f"  stack up in {time.perf_counter() - t0:.1f} s (web :{platform.web_port})")
        common = dict(poll_interval=args.poll_interval, via_inbox=False, stop=stop, timeout=60.0)
        e2e.run_clients(
            platform.base_url, clients=2, instances=max(args.warmup, 2), tag="hw", **common
        )
        open_template = _start_one(platform.base_url, "hopen0")
        seeder = Seeder(platform.url)
        finished_template = seeder.template("complete", PROCESS_KEY)
        seconds = seeder.add_open(max(args.open_tasks - 1, 0), open_template)
        log(
            f"  seeded {seeder.seeded_open:,} open copies of instance {open_template}"
            f" in {seconds:.1f} s"
        )
        for label, wanted in (("small", args.history_small), ("large", args.history)):
            platform.check_alive()
            need = wanted - seeder.counts()["finished"]
            if need > 0:
                seconds = seeder.add_finished(need, finished_template, log=log)
                log(
                    f"  seeded {need:,} finished copies of instance {finished_template}"
                    f" in {seconds:.1f} s ({need / seconds:,.0f}/s)"
                )
            level = _measure(args, platform, seeder, label, common, log)
            out["levels"].append(level)
        out["file_bytes"] = platform.db_path.stat().st_size if not pg else None
        if out["file_bytes"]:
            log(f"  SQLite file {out['file_bytes'] / 2**20:,.0f} MiB")
        platform.check_alive()
    except Exception:
        if platform is not None:
            log(platform.tail_logs())
            platform.keep = True
        raise
    finally:
        if seeder is not None:
            seeder.close()
        if platform is not None:
            platform.cleanup()
            if platform.keep:
                log(f"  kept {platform.tmpdir}")
        if pg is not None:
            pg.stop()
    return out


def _start_one(base_url: str, username: str) -> int:
    """Start one instance as the requester; it waits at manager_approval."""
    response = requests.post(
        f"{base_url}/api/v1/instances",
        json={"offering": PROCESS_KEY, "data": start_data(username)},
        headers={"Authorization": f"Bearer demo-{REQUESTER}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["id"]


def _measure(args, platform, seeder, label, common, log) -> dict:
    counts = seeder.counts()
    log(
        f"  [{label}] {counts['finished']:,} finished instances, {counts['open_tasks']:,} open"
        f" tasks ({counts['instances']:,} instances, {counts['human_task_rows']:,} human_task,"
        f" {counts['job_rows']:,} job, {counts['event_rows']:,} instance_event rows)"
    )
    level = {"label": label, "counts": counts}
    seeder.wait_idle()
    before = stack.cpu_snapshot(platform)
    level["inbox"] = _timed_gets(
        platform.base_url,
        INBOX_USER,
        "/api/v1/tasks",
        {"scope": "all", "page_size": 50},
        args.inbox_requests,
    )
    inbox = level["inbox"]
    cpu = stack.cpu_delta(before, stack.cpu_snapshot(platform), inbox["requests"] + 5)
    inbox["web_cpu_ms"] = cpu["ms_per_instance"].get("web", 0.0)
    inbox["other_cpus"] = cpu["other_cpus"]
    log(
        f"     inbox GET /tasks?scope=all&page_size=50 as {INBOX_USER} (total {inbox['total']:,}):"
        f" p50 {inbox['p50_ms']:.1f} ms  p95 {inbox['p95_ms']:.1f} ms  ({inbox['requests']} calls;"
        f" web CPU {inbox['web_cpu_ms']:.1f} ms/call; other processes {inbox['other_cpus']:.2f}"
        " CPUs)"
    )
    level["my_requests"] = _timed_gets(
        platform.base_url,
        REQUESTER,
        "/api/v1/instances",
        {"scope": "mine", "page_size": 50},
        max(args.inbox_requests // 4, 10),
    )
    mine = level["my_requests"]
    log(
        f"     my requests GET /instances?scope=mine&page_size=50 as {REQUESTER}"
        f" (total {mine['total']:,}): p50 {mine['p50_ms']:.1f} ms  p95 {mine['p95_ms']:.1f} ms"
    )
    level["e2e"] = []
    crashed_before = platform.crashed_jobs()
    for clients in (1, 4):
        platform.check_alive()
        res = e2e.run_clients(
            platform.base_url,
            clients=clients,
            instances=args.history_instances,
            tag=f"h{label[0]}{clients}x",
            wait_complete=False,
            **common,
        )
        res["drain_s"] = seeder.wait_idle()
        level["e2e"].append(res)
        log(
            f"     {clients} client(s): complete p50 {res['complete_p50_ms']:.1f} ms"
            f"  p95 {res['complete_p95_ms']:.1f} ms   start p50 {res['start_p50_ms']:.1f} ms"
            f"  p95 {res['start_p95_ms']:.1f} ms   ({res['instances']} instances in"
            f" {res['wall_s']:.1f} s; workers done {res['drain_s']:.1f} s later)"
        )
    level["crashed_jobs"] = platform.crashed_jobs() - crashed_before
    if level["crashed_jobs"]:
        log(f"     !! {level['crashed_jobs']} job(s) raised out of the job wrapper")
    return level


def _timed_gets(base_url, user, path, params, count, warmup=5) -> dict:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer demo-{user}"
    samples, total = [], None
    try:
        for i in range(warmup + count):
            t0 = time.perf_counter()
            response = session.get(base_url + path, params=params, timeout=60)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} as {user}: HTTP {response.status_code}")
            body = response.json()
            total = body["total"]
            if len(body["items"]) != min(params["page_size"], total):
                raise RuntimeError(f"GET {path}: {len(body['items'])} items of {total}")
            if i >= warmup:
                samples.append(elapsed)
    finally:
        session.close()
    return {
        "requests": len(samples),
        "total": total,
        "p50_ms": percentile(samples, 50) * 1e3,
        "p95_ms": percentile(samples, 95) * 1e3,
    }


def _ok(condition: bool) -> str:
    return "yes" if condition else "NO"


def summary_rows(out: dict) -> list[tuple[str, str, str, str, str]]:
    levels = {level["label"]: level for level in out.get("levels", [])}
    small, large = levels.get("small"), levels.get("large")
    if not large:
        return []
    rows = []
    n_large = large["counts"]["finished"]
    n_small = small["counts"]["finished"] if small else None
    hist = f"{n_large / 1000:,.0f}k hist."
    note = f"{out['db']}; N={n_large:,} < PRODUCT.md's 1M"
    for sub in large["e2e"]:
        c = sub["clients"]
        target = TARGET_COMPLETE_P95_MS[c]
        rows.append(
            (
                f"complete p95, {hist}, {c} cl.",
                f"{sub['complete_p95_ms']:.1f} ms",
                f"<= {target:.0f} ms (1M hist.)",
                _ok(sub["complete_p95_ms"] <= target),
                note,
            )
        )
        if small:
            base = next(s for s in small["e2e"] if s["clients"] == c)
            rows.append(
                (
                    f"  same vs {n_small / 1000:,.0f}k hist., {c} cl.",
                    f"{sub['complete_p95_ms'] / base['complete_p95_ms']:.2f}x",
                    "-",
                    "-",
                    f"{base['complete_p95_ms']:.1f} ms with {n_small:,}",
                )
            )
    inbox = large["inbox"]
    open_tasks = large["counts"]["open_tasks"]
    rows.append(
        (
            f"inbox top-50 p95, {hist}",
            f"{inbox['p95_ms']:.1f} ms",
            f"<= {TARGET_INBOX_P95_MS:.0f} ms (1M hist., 10k open)",
            _ok(inbox["p95_ms"] <= TARGET_INBOX_P95_MS),
            f"{open_tasks:,} open; {note}",
        )
    )
    if small:
        ratio = inbox["p95_ms"] / small["inbox"]["p95_ms"]
        ratio50 = inbox["p50_ms"] / small["inbox"]["p50_ms"]
        others = [lv["inbox"].get("other_cpus", 0.0) for lv in (small, large)]
        rows.append(
            (
                f"  inbox p95 {hist} / {n_small / 1000:,.0f}k hist.",
                f"{ratio:.2f}x",
                f"<= {TARGET_INBOX_RATIO}x (1M vs 10k)",
                _ok(ratio <= TARGET_INBOX_RATIO),
                f"{small['inbox']['p95_ms']:.1f} ms with {n_small:,}; p50 ratio {ratio50:.2f}x;"
                f" others {others[0]:.2f}/{others[1]:.2f} CPUs",
            )
        )
    mine = large["my_requests"]
    rows.append(
        (
            f"my requests top-50 p95, {hist}",
            f"{mine['p95_ms']:.1f} ms",
            "-",
            "-",
            f"hr has {mine['total']:,} requests"
            + (f"; {small['my_requests']['p95_ms']:.1f} ms with {n_small:,}" if small else ""),
        )
    )
    return rows
