"""Scale-out figure: end to end on PostgreSQL with 1, 2, 4 `python -m workers` processes.

One throw-away platform on a throwaway PostgreSQL 15 (tests/servers.py: fsync off), Redis,
gunicorn -w 2; the same onboarding scenario and clients as (c) (`--scale-clients`, default 4).
Worker processes are added between the sub-runs (1, then 2, then 4), so each sub-run's database
also holds the previous sub-runs' instances (a few hundred). Each figure is printed beside the same
run's bare (b) figure as a ratio. Then, the platform stopped, the stored bytes per finished
instance are read from PostgreSQL (bench/storage.py: measure_postgres).
"""

import atexit
import os
import time

from bench import e2e, stack, storage
from bench.pg import BenchPostgres
from bench.scenario import PROCESS_KEY
from bench.seed import Seeder

TARGET_RATIO = 0.5
TARGET_STORED_BYTES = 10 * 1024


def run(args, bare_b: float | None, log, stop) -> dict:
    log()
    counts = sorted({int(c) for c in args.scale_workers.split(",") if c.strip()})
    log(
        f"(s) scale-out on PostgreSQL: {','.join(map(str, counts))} x `python -m workers`,"
        f" gunicorn -w {args.scale_web_workers} --threads {args.web_threads},"
        f" {args.scale_clients} clients, {args.scale_instances} instances per sub-run"
    )
    pg = BenchPostgres()
    atexit.register(pg.stop)
    platform = None
    out = {"subruns": []}
    try:
        url = pg.start(log=log)
        platform = stack.Stack(
            web_workers=args.scale_web_workers,
            web_threads=args.web_threads,
            rq_workers=counts[0],
            keep=args.keep,
            database_url=url,
        )
        atexit.register(platform.cleanup)
        t0 = time.perf_counter()
        platform.start(log=log)
        log(f"  stack up in {time.perf_counter() - t0:.1f} s (web :{platform.web_port})")
        common = dict(
            poll_interval=args.poll_interval, via_inbox=args.via_inbox, stop=stop, timeout=60.0
        )
        if args.warmup:
            warm = e2e.run_clients(
                platform.base_url, clients=2, instances=args.warmup, tag="sw", **common
            )
            log(f"  warm-up: {warm['instances']} instances in {warm['wall_s']:.1f} s")
        extra = {"postgres": pg.cpu_seconds}
        for workers in counts:
            if workers > platform.rq_workers:
                platform.add_workers(workers - platform.rq_workers)
            platform.check_alive()
            before = stack.cpu_snapshot(platform, extra)
            crashed_before = platform.crashed_jobs()
            result = e2e.run_clients(
                platform.base_url,
                clients=args.scale_clients,
                instances=args.scale_instances,
                tag=f"s{workers}w",
                **common,
            )
            result["workers"] = workers
            result["cpu"] = stack.cpu_delta(
                before, stack.cpu_snapshot(platform, extra), result["instances"]
            )
            result["crashed_jobs"] = platform.crashed_jobs() - crashed_before
            out["subruns"].append(result)
            ips = result["instances_per_s"]
            ratio = f"  = {ips / bare_b:.3f} x (b) {bare_b:.1f}/s" if bare_b else ""
            log(
                f"  {workers} worker(s): {result['instances']} instances"
                f" in {result['wall_s']:.1f} s -> {ips:.1f} inst/s{ratio}"
            )
            log(
                f"     start p50 {result['start_p50_ms']:.1f} p95 {result['start_p95_ms']:.1f} ms"
                f"   complete p50 {result['complete_p50_ms']:.1f} p95"
                f" {result['complete_p95_ms']:.1f} ms   last step -> complete p50"
                f" {result['tail_p50_ms']:.1f} ms   retried calls {result['retries']}"
                f"   jobs crashed {result['crashed_jobs']}"
            )
            cpu = result["cpu"]
            per = ", ".join(f"{k} {v:.1f}" for k, v in cpu["ms_per_instance"].items())
            log(
                f"     CPU ms per instance: {per};  machine busy {cpu['machine_busy_cpus']:.2f} of"
                f" {os.cpu_count()} CPUs, of which other processes {cpu['other_cpus']:.2f}"
            )
        out["memory"] = [
            {"role": role, "pid": pid, "rss_kib": stack.rss_kib(pid)[0]}
            for role, pid in platform.processes()
        ]
        out["postgres_rss_kib"] = pg.rss_kib()
        platform.stop()  # web and workers end; the server stays up for the storage figures
        out["storage"] = storage.measure_postgres(url, PROCESS_KEY)
        if args.scale_copies:
            out["storage"]["marginal"] = _marginal_disk(url, args.scale_copies)
        _print_storage(out["storage"], log)
    except Exception:
        if platform is not None:
            log(platform.tail_logs())
            platform.keep = True
        raise
    finally:
        if platform is not None:
            platform.cleanup()
            if platform.keep:
                log(f"  kept {platform.tmpdir}")
        pg.stop()
    return out


def _marginal_disk(url: str, copies: int) -> dict:
    """On-disk bytes one more finished instance adds: copy one `copies` times (bench/seed.py)."""
    seeder = Seeder(url)
    try:
        template = seeder.template("complete", PROCESS_KEY)
        before = storage.pg_disk_bytes(url)
        seeder.add_finished(copies, template, log=lambda _msg: None)
        after = storage.pg_disk_bytes(url)
    finally:
        seeder.close()
    return {"copies": copies, "bytes_per_instance": (after - before) / copies}


def _print_storage(st: dict, log) -> None:
    log(
        f"  storage on PostgreSQL ({st['finished']} finished {PROCESS_KEY} instances;"
        f" instance statuses {st['statuses']}, job statuses {st['job_statuses']}):"
    )
    if not st.get("payload_mean"):
        return
    for name, value in st["payload_mean"].items():
        log(f"     {name:<32} {value:10,.0f} B")
    log(
        f"     {'workflow_json text length':<32} {st['workflow_json_text_mean']:10,.0f} B"
        "  (deflated + base64; TOAST stores it as is)"
    )
    log(
        f"     {'total / instance':<32} {st['payload_total_mean']:10,.0f} B"
        f"  (median {st['payload_total_median']:,.0f})"
    )
    rows = ", ".join(f"{k} {v:.1f}" for k, v in st["rows_per_instance"].items())
    log(f"     rows per instance: {rows}")
    tables = ", ".join(f"{k} {v / 1024:,.0f}" for k, v in st["disk_tables"].items())
    vacuumed = ", ".join(f"{k} {v / 1024:,.0f}" for k, v in st["disk_tables_vacuumed"].items())
    log(
        f"     pg_total_relation_size / instance {st['disk_per_instance']:10,.0f} B as left by"
        f" the run ({st['all_instances']} instances; KiB: {tables})"
    )
    log(
        f"     {'  after VACUUM FULL':<32}   {st['disk_per_instance_vacuumed']:10,.0f} B"
        f"  (KiB: {vacuumed})"
    )
    if "marginal" in st:
        log(
            f"     {'  one more instance (marginal)':<32}   "
            f"{st['marginal']['bytes_per_instance']:10,.0f} B"
            f"  (growth of the four tables over {st['marginal']['copies']:,} row copies of a"
            " finished instance: no fixed overhead, no dead versions)"
        )


def _ok(condition: bool) -> str:
    return "yes" if condition else "NO"


def summary_rows(out: dict, bare_b: float | None) -> list[tuple[str, str, str, str, str]]:
    rows = []
    subruns = out.get("subruns", [])
    first = subruns[0]["instances_per_s"] if subruns else None
    for sub in subruns:
        w, ips = sub["workers"], sub["instances_per_s"]
        cpu = sub.get("cpu", {})
        rows.append(
            (
                f"(s) PG e2e, {w} worker(s), {sub['clients']} cl.",
                f"{ips:.1f} inst/s",
                "-",
                "-",
                f"x{ips / first:.2f} vs {subruns[0]['workers']} worker(s);"
                f" others {cpu.get('other_cpus', 0):.2f} CPUs",
            )
        )
        if bare_b:
            rows.append(
                (
                    f"  (s)/(b), {w} worker(s)",
                    f"{ips / bare_b:.3f}",
                    f">= {TARGET_RATIO} (stated for SQLite)",
                    _ok(ips / bare_b >= TARGET_RATIO),
                    f"(b) = {bare_b:.1f} inst/s, same run",
                )
            )
    st = out.get("storage", {})
    if st.get("payload_total_mean") is not None:
        total = st["payload_total_mean"]
        rows.append(
            (
                "stored bytes / finished inst., PG",
                f"{total:,.0f} B",
                "<= 10 KB",
                _ok(total <= TARGET_STORED_BYTES),
                "sum of pg_column_size(row) of its 4 tables",
            )
        )
        for key, label in (
            ("disk_per_instance", "  PG on disk (total_relation_size)"),
            ("disk_per_instance_vacuumed", "  same after VACUUM FULL"),
        ):
            rows.append(
                (
                    label,
                    f"{st[key]:,.0f} B",
                    "<= 10 KB",
                    _ok(st[key] <= TARGET_STORED_BYTES),
                    f"/ {st['all_instances']} instances, incl. indexes",
                )
            )
        if "marginal" in st:
            value = st["marginal"]["bytes_per_instance"]
            rows.append(
                (
                    "  PG on disk, marginal",
                    f"{value:,.0f} B",
                    "<= 10 KB",
                    _ok(value <= TARGET_STORED_BYTES),
                    f"growth per copy, {st['marginal']['copies']:,} copies",
                )
            )
    return rows
