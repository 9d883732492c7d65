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


# -- PostgreSQL ------------------------------------------------------------------------------------


def measure_postgres(url: str, offering_key: str) -> dict:
    """Stored bytes per finished instance on PostgreSQL (the platform stopped, the server up).

    payload: pg_column_size() of each row of the instance (`t.*`: the row as stored, values
    compressed by TOAST where they were); workflow_json also as its stored size and its text
    length. on disk: pg_total_relation_size() of the four tables (heap, TOAST, indexes, free space
    map) / instances in the database, first as the run left it (dead row versions of the updated
    instance and job rows included), then after VACUUM FULL.
    """
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:

            def rows(sql, **params):
                return conn.execute(text(sql), params).all()

            statuses = dict(rows("SELECT status, count(*) FROM process_instance GROUP BY status"))
            job_statuses = dict(rows("SELECT status, count(*) FROM job GROUP BY status"))
            finished = [
                r[0]
                for r in rows(
                    "SELECT id FROM process_instance"
                    " WHERE offering_key = :k AND status = 'complete'",
                    k=offering_key,
                )
            ]
            result = {"finished": len(finished), "statuses": statuses, "job_statuses": job_statuses}
            if not finished:
                return result
            instance = rows(
                "SELECT id, pg_column_size(p.*), pg_column_size(p.workflow_json),"
                " octet_length(p.workflow_json) FROM process_instance p"
                " WHERE offering_key = :k AND status = 'complete' ORDER BY id",
                k=offering_key,
            )
            per_part = {
                "instance row (pg_column_size)": [r[1] for r in instance],
                "  of which workflow_json": [r[2] for r in instance],
            }
            rows_per_instance = {}
            for table, link in PER_INSTANCE_TABLES.items():
                if table == "process_instance":
                    continue
                found = {
                    r[0]: (r[1], r[2])
                    for r in rows(
                        f"SELECT t.{link}, sum(pg_column_size(t.*)), count(*) FROM {table} t"
                        f" JOIN process_instance p ON p.id = t.{link}"
                        " WHERE p.offering_key = :k AND p.status = 'complete'"
                        f" GROUP BY t.{link}",
                        k=offering_key,
                    )
                }
                ids = [r[0] for r in instance]
                per_part[f"{table} rows"] = [found.get(i, (0, 0))[0] for i in ids]
                rows_per_instance[table] = statistics.mean(found.get(i, (0, 0))[1] for i in ids)
            totals = [
                sum(v[k] for name, v in per_part.items() if not name.startswith(" "))
                for k in range(len(instance))
            ]
            result["payload_mean"] = {name: statistics.mean(v) for name, v in per_part.items()}
            result["payload_total_mean"] = statistics.mean(totals)
            result["payload_total_median"] = statistics.median(totals)
            result["rows_per_instance"] = rows_per_instance
            result["workflow_json_text_mean"] = statistics.mean(r[3] for r in instance)
            all_instances = rows("SELECT count(*) FROM process_instance")[0][0]
            result["all_instances"] = all_instances

            def disk() -> dict:
                return {
                    table: rows("SELECT pg_total_relation_size(CAST(:t AS regclass))", t=table)[0][
                        0
                    ]
                    for table in PER_INSTANCE_TABLES
                }

            before = disk()
            conn.execute(text("VACUUM FULL " + ", ".join(PER_INSTANCE_TABLES)))
            after = disk()
            result["disk_tables"] = before
            result["disk_tables_vacuumed"] = after
            result["disk_per_instance"] = sum(before.values()) / all_instances
            result["disk_per_instance_vacuumed"] = sum(after.values()) / all_instances
            result["database_bytes"] = rows("SELECT pg_database_size(current_database())")[0][0]
            spec = rows(
                "SELECT version, octet_length(spec_json), octet_length(CAST(files AS text)),"
                " octet_length(CAST(meta AS text)) FROM process_version WHERE process_key = :k"
                " ORDER BY version DESC LIMIT 1",
                k=offering_key,
            )
            if spec:
                v, spec_json, files, meta = spec[0]
                result["spec"] = {
                    "version": v,
                    "spec_json": spec_json,
                    "files": files,
                    "meta": meta,
                }
            return result
    finally:
        engine.dispose()


def pg_disk_bytes(url: str) -> int:
    """pg_total_relation_size() of the four per-instance tables together."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sum(
                conn.scalar(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": t})
                for t in PER_INSTANCE_TABLES
            )
    finally:
        engine.dispose()
