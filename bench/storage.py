"""Stored bytes per finished instance, read straight from the SQLite file with sqlite3.

Two views:
- payload: the bytes of the column values of the instance's own rows (process_instance incl.
  workflow_json, human_task, job, instance_event), each value measured as length(CAST(x AS BLOB));
- on disk: the pages SQLite uses for those four tables and their indexes (dbstat), divided by the
  number of instances in the database (every instance in the bench database is a bench instance).
"""

import sqlite3
import statistics
from pathlib import Path

PER_INSTANCE_TABLES = {  # table -> column that links a row to its instance
    "process_instance": "id",
    "human_task": "instance_id",
    "job": "instance_id",
    "instance_event": "instance_id",
}


def _columns(conn, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _row_bytes_sql(conn, table: str, exclude=()) -> str:
    parts = [
        f'coalesce(length(CAST("{c}" AS BLOB)), 0)'
        for c in _columns(conn, table)
        if c not in exclude
    ]
    return " + ".join(parts) or "0"


def measure(db_path: Path, offering_key: str) -> dict:
    conn = sqlite3.connect(db_path)  # read-write: recovers a WAL left by a killed process
    try:
        return _measure(conn, offering_key)
    finally:
        conn.close()


def _measure(conn, offering_key: str) -> dict:
    finished = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM process_instance WHERE offering_key = ? AND status = 'complete'",
            (offering_key,),
        )
    ]
    statuses = dict(
        conn.execute("SELECT status, count(*) FROM process_instance GROUP BY status").fetchall()
    )
    job_statuses = dict(conn.execute("SELECT status, count(*) FROM job GROUP BY status").fetchall())
    result = {"finished": len(finished), "statuses": statuses, "job_statuses": job_statuses}
    if not finished:
        return result
    ids = ",".join(str(i) for i in finished)
    per_part = {}
    if "workflow_json" in _columns(conn, "process_instance"):
        workflow = conn.execute(
            f"SELECT length(CAST(workflow_json AS BLOB)) FROM process_instance WHERE id IN ({ids})"
        ).fetchall()
        per_part["workflow_json"] = [r[0] for r in workflow]
    rest = _row_bytes_sql(conn, "process_instance", exclude=("workflow_json",))
    per_part["instance row (other columns)"] = [
        r[0] for r in conn.execute(f"SELECT {rest} FROM process_instance WHERE id IN ({ids})")
    ]
    rows_per_instance = {}
    for table, link in PER_INSTANCE_TABLES.items():
        if table == "process_instance":
            continue
        expr = _row_bytes_sql(conn, table)
        found = dict(
            conn.execute(
                f"SELECT {link}, sum({expr}) FROM {table} WHERE {link} IN ({ids}) GROUP BY {link}"
            ).fetchall()
        )
        counts = dict(
            conn.execute(
                f"SELECT {link}, count(*) FROM {table} WHERE {link} IN ({ids}) GROUP BY {link}"
            ).fetchall()
        )
        per_part[f"{table} rows"] = [found.get(i, 0) for i in finished]
        rows_per_instance[table] = statistics.mean(counts.get(i, 0) for i in finished)
    totals = [sum(values[k] for values in per_part.values()) for k in range(len(finished))]
    result["payload_mean"] = {name: statistics.mean(v) for name, v in per_part.items()}
    result["payload_total_mean"] = statistics.mean(totals)
    result["payload_total_median"] = statistics.median(totals)
    result["rows_per_instance"] = rows_per_instance

    spec = conn.execute(
        "SELECT version, length(CAST(spec_json AS BLOB)), length(CAST(files AS BLOB)),"
        " length(CAST(meta AS BLOB)) FROM process_version WHERE process_key = ?"
        " ORDER BY version DESC LIMIT 1",
        (offering_key,),
    ).fetchone()
    if spec:
        result["spec"] = {
            "version": spec[0],
            "spec_json": spec[1],
            "files": spec[2],
            "meta": spec[3],
        }

    all_instances = conn.execute("SELECT count(*) FROM process_instance").fetchone()[0]
    try:
        pages = _dbstat(conn)
    except sqlite3.DatabaseError:
        pages = None
    if pages is not None and all_instances:
        result["disk_per_instance"] = pages / all_instances
    result["file_bytes"] = _file_bytes(conn)
    result["all_instances"] = all_instances
    return result


def _dbstat(conn) -> int:
    """Bytes of the pages of the per-instance tables and their indexes (incl. autoindexes)."""
    tables = tuple(PER_INSTANCE_TABLES)
    marks = ",".join("?" * len(tables))
    names = [
        row[0]
        for row in conn.execute(
            f"SELECT name FROM sqlite_master WHERE tbl_name IN ({marks})", tables
        )
    ]
    marks = ",".join("?" * len(names))
    return conn.execute(
        f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names
    ).fetchone()[0]


def _file_bytes(conn) -> int:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    return page_size * page_count
