"""FlowDesk benchmark: the platform end to end against bare SpiffWorkflow, in one run.

    .venv/bin/python bench/run.py [--instances N] [--bare-instances M] ...   (or `make bench`)

(a) bare SpiffWorkflow, onboarding model in memory, parsed once;
(b) bare SpiffWorkflow with a full serialize/deserialize around each user step;
(c) FlowDesk through its HTTP API (gunicorn + SQLite + Redis + RQ workers), 1 and 4 clients;
then storage per finished instance and memory per process;
(s) scale-out: the same on PostgreSQL with 1, 2, 4 worker processes, and storage on PostgreSQL;
(h) complete-task and inbox latency with a large seeded history (100k finished, 10k open);
(l) a step late in a long instance (a 510-pass gateway loop): step 500 against step 10;
(q) SQL statements and commits per request, counted in-process.
See bench/README.md.
No timing is asserted: the script prints figures and the PRODUCT.md targets beside them.
"""

import argparse
import atexit
import json
import os
import platform
import signal
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

from bench import bare, e2e, history, long, sandbox, scale, stack, statements, storage  # noqa: E402
from bench.scenario import PROCESS_KEY  # noqa: E402

PARTS = ("bare", "e2e", "sql", "scale", "history", "long", "sandbox")
KB = 1024
MB = 1024 * 1024
TARGET_RATIO = 0.5  # end to end >= 0.5 x bare with save/load
TARGET_COMPLETE_P95_MS = {1: 25.0, 4: 50.0}
TARGET_STORED_BYTES = 10 * KB
TARGET_RSS_BYTES = 120 * MB
SPIFFARENA = {  # PRODUCT.md, "Speed targets": the closest peer on a 2-core machine with SQLite
    "instances_per_s": "~1.8",
    "complete_p50_ms": "95-108",
    "complete_p95_ms": "125-170 (x4 with 4 clients)",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=100,
        help="end-to-end instances per client sub-run (default 100)",
    )
    parser.add_argument(
        "--bare-instances",
        type=int,
        default=300,
        help="instances per bare SpiffWorkflow run (default 300)",
    )
    parser.add_argument("--runs", type=int, default=3, help="bare runs; the median is reported")
    parser.add_argument(
        "--clients", default="1,4", help="comma-separated client counts, one sub-run each"
    )
    parser.add_argument("--warmup", type=int, default=6, help="untimed instances first (default 6)")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.02,
        help="seconds between GET /instances/<id> while waiting for the workers",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=10.0,
        help="(c): long-poll GET /instances/<id>?revision=&wait=S for the workers (default 10;"
        " 0: poll every --poll-interval instead)",
    )
    parser.add_argument(
        "--via-inbox",
        action="store_true",
        help="find each task with GET /api/v1/tasks instead of the response's open_tasks",
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument(
        "--only",
        choices=PARTS,
        help="run only this part (scale also measures (b) for its ratio)",
    )
    parser.add_argument(
        "--skip", default="", help=f"comma-separated parts to leave out ({', '.join(PARTS)})"
    )
    scale_args = parser.add_argument_group("(s) scale-out on PostgreSQL")
    scale_args.add_argument(
        "--scale-workers", default="1,2,4", help="worker process counts, one sub-run each"
    )
    scale_args.add_argument("--scale-clients", type=int, default=4)
    scale_args.add_argument(
        "--scale-instances", type=int, default=60, help="instances per sub-run (default 60)"
    )
    scale_args.add_argument("--scale-web-workers", type=int, default=2)
    scale_args.add_argument(
        "--scale-copies",
        type=int,
        default=2000,
        help="row copies of a finished instance for the marginal on-disk figure (0: none)",
    )
    hist_args = parser.add_argument_group("(h) latency with a large history")
    hist_args.add_argument(
        "--history",
        type=int,
        default=100_000,
        help="finished instances in the database (default 100,000; PRODUCT.md says 1M)",
    )
    hist_args.add_argument(
        "--history-small",
        type=int,
        default=10_000,
        help="the small history to compare with (default 10,000, as PRODUCT.md)",
    )
    hist_args.add_argument(
        "--open-tasks", type=int, default=10_000, help="open tasks in the inbox (default 10,000)"
    )
    hist_args.add_argument(
        "--history-instances",
        type=int,
        default=40,
        help="end-to-end instances per client count (1, 4) at each history size (default 40)",
    )
    hist_args.add_argument(
        "--inbox-requests", type=int, default=100, help="timed inbox loads per history size"
    )
    hist_args.add_argument("--history-db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (DB, logs)")
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    return parser.parse_args(argv)


def log(message: str = "") -> None:
    print(message, flush=True)


def _raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


# -- the three parts -------------------------------------------------------------------------------


def run_bare(args, only_b: bool = False) -> dict:
    log(f"(a)/(b) bare SpiffWorkflow, {args.bare_instances} instances x {args.runs} runs")
    out = {}
    for key, label, fn in (
        ("a", "(a) in memory, parse once  ", bare.in_memory),
        ("b", "(b) save/load per user step", bare.round_trip),
    ):
        if only_b and key == "a":
            continue
        res = out[key] = bare.measure(fn, args.bare_instances, args.runs, stack.machine_cpu)
        log(
            f"  {label}  {res['instances_per_s']:8.1f} inst/s"
            f"  {res['ms_per_instance']:6.2f} ms/inst ({res['cpu_ms_per_instance']:.2f} ms CPU)"
            f"   runs {res['runs_s']} s"
            f"   other processes {res['other_cpus']:.2f} CPUs"
        )
    log(f"  (b) final JSON {out['b']['json_bytes_final']:,} B (spec inside)")
    return out


def run_platform(args, platform_stack: stack.Stack, stop: threading.Event) -> dict:
    log()
    log(
        f"(c) FlowDesk end to end: gunicorn -w {args.web_workers} --threads {args.web_threads},"
        f" {args.rq_workers} RQ workers, redis-server, SQLite"
    )
    t0 = time.perf_counter()
    platform_stack.start(log=log)
    log(f"  stack up in {time.perf_counter() - t0:.1f} s (web :{platform_stack.web_port})")
    common = dict(
        poll_interval=args.poll_interval, via_inbox=args.via_inbox, stop=stop, timeout=60.0,
        wait=args.wait,
    )  # fmt: skip
    out = {"subruns": []}
    if args.warmup:
        warm = e2e.run_clients(
            platform_stack.base_url, clients=2, instances=args.warmup, tag="warm", **common
        )
        log(f"  warm-up: {warm['instances']} instances in {warm['wall_s']:.1f} s (not counted)")
    for index, clients in enumerate(int(c) for c in args.clients.split(",") if c.strip()):
        platform_stack.check_alive()
        cpu_before = stack.cpu_snapshot(platform_stack)
        crashed_before = platform_stack.crashed_jobs()
        result = e2e.run_clients(
            platform_stack.base_url,
            clients=clients,
            instances=args.instances,
            tag=f"c{index}x",
            **common,
        )
        result["cpu"] = stack.cpu_delta(
            cpu_before, stack.cpu_snapshot(platform_stack), result["instances"]
        )
        result["crashed_jobs"] = platform_stack.crashed_jobs() - crashed_before
        out["subruns"].append(result)
        log(
            f"  {clients} client(s): {result['instances']} instances in {result['wall_s']:.1f} s"
            f" -> {result['instances_per_s']:.1f} inst/s"
        )
        log(
            f"     start    p50 {_ms(result['start_p50_ms'])}  p95 {_ms(result['start_p95_ms'])}"
            f"   complete p50 {_ms(result['complete_p50_ms'])}"
            f"  p95 {_ms(result['complete_p95_ms'])}"
        )
        log(
            f"     GET instance p50 {_ms(result['poll_p50_ms'])} p95 {_ms(result['poll_p95_ms'])}"
            f" ({result['polls_per_instance']:.1f}/inst)"
            f"   last step -> complete p50 {_ms(result['tail_p50_ms'])}"
            f" p95 {_ms(result['tail_p95_ms'])}"
            f"   whole instance p50 {_ms(result['instance_p50_ms'])}"
        )
        if result["inbox_lookups"]:
            log(
                f"     inbox look-ups {result['inbox_lookups']}: p50 {_ms(result['inbox_p50_ms'])}"
                f" p95 {_ms(result['inbox_p95_ms'])}"
            )
        if result["retries"]:
            log(f"     retried calls (409/503): {result['retries']}")
        if result["crashed_jobs"]:
            log(
                f"     !! {result['crashed_jobs']} job(s) raised out of the job wrapper"
                " (rescued by the job lease; see the worker logs with --keep)"
            )
        cpu = result["cpu"]
        per = ", ".join(f"{k} {v:.1f}" for k, v in cpu["ms_per_instance"].items())
        log(
            f"     CPU ms per instance: {per};  machine busy {cpu['machine_busy_cpus']:.2f} of"
            f" {os.cpu_count()} CPUs, of which other processes {cpu['other_cpus']:.2f}"
        )
    platform_stack.check_alive()
    out["memory"] = [
        {"role": role, "pid": pid, "rss_kib": rss, "hwm_kib": hwm}
        for role, pid in platform_stack.processes()
        for rss, hwm in [stack.rss_kib(pid)]
    ]
    log("  memory at the end (VmRSS / peak VmHWM):")
    for proc in out["memory"]:
        log(
            f"     {proc['role']:<16} pid {proc['pid']:>7}  {_mib(proc['rss_kib'])}"
            f" / {_mib(proc['hwm_kib'])}"
        )
    platform_stack.stop()  # processes end (WAL checkpoint) before the file is read
    out["storage"] = storage.measure(platform_stack.db_path, PROCESS_KEY)
    _print_storage(out["storage"])
    return out


def _print_storage(st: dict) -> None:
    log(
        f"  storage ({st['finished']} finished {PROCESS_KEY} instances;"
        f" instance statuses {st['statuses']}, job statuses {st['job_statuses']}):"
    )
    if not st.get("payload_mean"):
        return
    for name, value in st["payload_mean"].items():
        log(f"     {name:<30} {value:10,.0f} B")
    log(
        f"     {'total payload / instance':<30} {st['payload_total_mean']:10,.0f} B"
        f"  (median {st['payload_total_median']:,.0f})"
    )
    rows = ", ".join(f"{k} {v:.1f}" for k, v in st["rows_per_instance"].items())
    log(f"     rows per instance: {rows}")
    if "disk_per_instance" in st:
        log(
            f"     on disk incl. indexes (dbstat) {st['disk_per_instance']:10,.0f} B / instance"
            f"  (database file {st['file_bytes'] / MB:.1f} MiB, {st['all_instances']} instances)"
        )
    if "spec" in st:
        spec = st["spec"]
        log(
            f"     once per version (v{spec['version']}): spec_json {spec['spec_json']:,} B,"
            f" files {spec['files']:,} B, meta {spec['meta']:,} B"
        )


# -- summary ---------------------------------------------------------------------------------------


def _ms(value) -> str:
    return "   n/a" if value is None else f"{value:6.1f} ms"


def _mib(kib) -> str:
    return "n/a" if kib is None else f"{kib / 1024:6.1f} MiB"


def _ok(condition) -> str:
    if condition is None:
        return "-"
    return "yes" if condition else "NO"


def summary(results: dict) -> list[tuple[str, str, str, str, str]]:
    rows = []  # figure, measured, target, meets?, SpiffArena/notes reference
    bare_b = results.get("bare", {}).get("b", {}).get("instances_per_s")
    bare_a = results.get("bare", {}).get("a", {}).get("instances_per_s")
    if bare_a:
        rows.append(("(a) bare, in memory", f"{bare_a:.1f} inst/s", "-", "-", "notes: 281/s"))
    if bare_b:
        rows.append(
            ("(b) bare, save/load per step", f"{bare_b:.1f} inst/s", "-", "-", "notes: 84-117/s")
        )
    platform_out = results.get("platform", {})
    for sub in platform_out.get("subruns", []):
        c = sub["clients"]
        ips = sub["instances_per_s"]
        target = f">= {TARGET_RATIO * bare_b:.1f} inst/s" if bare_b else f">= {TARGET_RATIO} x (b)"
        meets = ips >= TARGET_RATIO * bare_b if bare_b else None
        rows.append(
            (f"(c) end to end, {c} client(s)", f"{ips:.1f} inst/s", target, _ok(meets), "~1.8/s")
        )
        if bare_b:
            rows.append(
                (
                    f"(c)/(b), {c} client(s)",
                    f"{ips / bare_b:.3f}",
                    f">= {TARGET_RATIO}",
                    _ok(ips / bare_b >= TARGET_RATIO),
                    "",
                )
            )
        p95_target = TARGET_COMPLETE_P95_MS.get(c)
        rows.append(
            (
                f"complete task p50/p95, {c} cl.",
                f"{sub['complete_p50_ms']:.1f} / {sub['complete_p95_ms']:.1f} ms",
                f"p95 <= {p95_target:.0f} ms (1M hist.)" if p95_target else "-",
                _ok(sub["complete_p95_ms"] <= p95_target) if p95_target else "-",
                "95-108 / 125-170 ms" + (" (x4)" if c > 1 else ""),
            )
        )
        cpu = sub.get("cpu", {}).get("ms_per_instance", {})
        if cpu:
            server = cpu.get("web", 0.0) + cpu.get("workers", 0.0) + cpu.get("redis", 0.0)
            bare_ms = results.get("bare", {}).get("b", {}).get("cpu_ms_per_instance")
            rows.append(
                (
                    f"server CPU / instance, {c} cl.",
                    f"{server:.0f} ms",
                    "-",
                    "-",
                    f"(b) bare: {bare_ms:.1f} ms CPU" if bare_ms else "",
                )
            )
            if bare_ms and server:
                ceiling = (os.cpu_count() or 1) * 1e3 / server
                wanted = TARGET_RATIO * 1e3 / bare_ms
                rows.append(
                    (
                        f"  CPU-bound ceiling, {c} cl.",
                        f"{ceiling:.1f} inst/s",
                        f">= {wanted:.1f} (0.5 x (b) by CPU)",
                        _ok(ceiling >= wanted),
                        f"{os.cpu_count()} CPUs / server CPU",
                    )
                )
        rows.append(
            (
                f"start p50/p95, {c} cl.",
                f"{sub['start_p50_ms']:.1f} / {sub['start_p95_ms']:.1f} ms",
                "-",
                "-",
                "",
            )
        )
    crashed = {
        name: sum(sub.get("crashed_jobs", 0) for sub in part.get("subruns", []))
        + sum(level.get("crashed_jobs", 0) for level in part.get("levels", []))
        for name, part in (
            ("(c)", platform_out),
            ("(s)", results.get("scale", {})),
            ("(h)", results.get("history", {})),
        )
        if part
    }
    if crashed:
        rows.append(
            (
                "jobs crashed out of the wrapper",
                ", ".join(f"{k} {v}" for k, v in crashed.items()),
                "0",
                _ok(not any(crashed.values())),
                "each waits for its job lease (bench: 5 s)",
            )
        )
    st = platform_out.get("storage", {})
    if st.get("payload_total_mean") is not None:
        total = st["payload_total_mean"]
        rows.append(
            (
                "stored bytes / finished inst.",
                f"{total:,.0f} B",
                "<= 10 KB",
                _ok(total <= TARGET_STORED_BYTES),
                "notes: 14,889 B JSON alone",
            )
        )
        if "disk_per_instance" in st:
            disk = st["disk_per_instance"]
            rows.append(
                (
                    "  same, on disk incl. indexes",
                    f"{disk:,.0f} B",
                    "<= 10 KB",
                    _ok(disk <= TARGET_STORED_BYTES),
                    "",
                )
            )
        if "spec" in st:
            rows.append(
                ("spec_json, once per version", f"{st['spec']['spec_json']:,} B", "once", "-", "")
            )
    memory = platform_out.get("memory", [])
    for kind, prefix in (("web worker", "web worker"), ("RQ worker", "worker")):
        values = [
            m["rss_kib"] * KB
            for m in memory
            if m["role"].startswith(prefix) and m["rss_kib"] and "child" not in m["role"]
        ]
        if values:
            top = max(values)
            rows.append(
                (
                    f"RSS per {kind} (max)",
                    f"{top / MB:.1f} MiB",
                    "<= 120 MB",
                    _ok(top <= TARGET_RSS_BYTES),
                    "",
                )
            )
    if "scale" in results:
        rows += scale.summary_rows(results["scale"], bare_b)
    hist_rows = history.summary_rows(results["history"]) if "history" in results else []
    rows += hist_rows
    if not hist_rows:
        rows.append(("inbox top-50 p95, 1M history", "not measured", "<= 50 ms", "-", ""))
    if "sandbox" in results:
        rows += sandbox.summary_rows(results["sandbox"])
    if "sql" in results:
        rows += statements.summary_rows(results["sql"])
    if "long" in results:
        rows += long.summary_rows(results["long"])
    else:
        rows.append(("step 500 vs step 10", "not measured", "<= 2x", "-", ""))
    return rows


def print_table(rows) -> None:
    header = ("figure", "measured", "target (PRODUCT.md)", "meets?", "reference")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    log(line.format(*header))
    log("  ".join("-" * w for w in widths))
    for row in rows:
        log(line.format(*row))


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)
    log(
        f"FlowDesk bench  python {platform.python_version()}  SpiffWorkflow"
        f" {version('SpiffWorkflow')}  {os.cpu_count()} CPUs  {time.strftime('%Y-%m-%d %H:%M:%S')}"
    )
    log()
    results = {"args": {k: str(v) for k, v in vars(args).items()}}
    t_all = time.perf_counter()
    stop = threading.Event()
    platform_stack = None
    parts = {args.only} if args.only else set(PARTS)
    parts -= {p.strip() for p in args.skip.split(",")}
    try:
        if "bare" in parts or "scale" in parts:
            results["bare"] = run_bare(args, only_b="bare" not in parts)
        if "e2e" in parts:
            platform_stack = stack.Stack(
                web_workers=args.web_workers,
                web_threads=args.web_threads,
                rq_workers=args.rq_workers,
                keep=args.keep,
            )
            atexit.register(platform_stack.cleanup)
            results["platform"] = run_platform(args, platform_stack, stop)
            platform_stack.cleanup()
            if args.keep:
                log(f"  kept {platform_stack.tmpdir}")
            platform_stack = None
        if "scale" in parts:
            bare_b = results["bare"]["b"]["instances_per_s"]
            results["scale"] = scale.run(args, bare_b, log, stop)
        if "history" in parts:
            results["history"] = history.run(args, log, stop)
        if "long" in parts:
            results["long"] = long.run(args, log)
        if "sandbox" in parts:
            results["sandbox"] = sandbox.run(args, log)
        if "sql" in parts:
            results["sql"] = statements.run(args, log)
    except (KeyboardInterrupt, SystemExit):
        stop.set()
        log("\ninterrupted: stopping the processes")
        raise
    except Exception:
        stop.set()
        if platform_stack is not None:
            log(platform_stack.tail_logs())
            platform_stack.keep = True  # the database and the logs, to look at the failure
        raise
    finally:
        if platform_stack is not None:
            platform_stack.cleanup()
            if args.keep:
                log(f"kept {platform_stack.tmpdir}")
    log()
    log(f"Summary ({time.perf_counter() - t_all:.0f} s in all)")
    print_table(summary(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
