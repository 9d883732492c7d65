"""Seed a large history fast: copy a real instance's rows with new ids, straight into the database.

- finished instances: one INSERT ... SELECT per table over a number series (a recursive CTE on
  SQLite, generate_series on PostgreSQL) copies the template's process_instance, human_task, job
  and instance_event rows; ids are new, task ids unique, timestamps moved back in time (a copy
  k steps back is `k * FINISHED_STEP_S` seconds older), so the history is older than the open
  work and the indexes see realistic spreads.
- open instances: a real instance waiting at its first user step, copied in Python, since each
  copy needs its own task id inside its (deflated) workflow: the ready task's UUID is replaced in
  the inflated JSON, so every copied task can be opened and completed through the API like the
  original.

The platform may keep running (idle) meanwhile: each batch is one short transaction.
"""

import base64
import time
import uuid
import zlib
from datetime import datetime, timedelta

from sqlalchemy import DateTime, MetaData, create_engine, func, insert, select, text

from engine.bpmn.serializer import COMPRESSED, document

TABLES = ("process_instance", "human_task", "job", "instance_event")
LINK = {"process_instance": "id", "human_task": "instance_id", "job": "instance_id"}
LINK["instance_event"] = "instance_id"
FINISHED_STEP_S = 37  # 100k copies span ~43 days
OPEN_STEP_S = 20  # 10k open copies span ~2.3 days
BATCH = 20_000  # instances per INSERT ... SELECT (one transaction)


class Seeder:
    def __init__(self, url: str):
        self.engine = create_engine(url)
        self.dialect = self.engine.dialect.name
        self.meta = MetaData()
        self.meta.reflect(self.engine, only=TABLES)
        self.seeded_finished = 0
        self.seeded_open = 0

    def close(self) -> None:
        self.engine.dispose()

    # -- counts ----------------------------------------------------------------------------------

    def counts(self) -> dict:
        with self.engine.connect() as conn:
            return {
                "instances": conn.scalar(text("SELECT count(*) FROM process_instance")),
                "finished": conn.scalar(
                    text("SELECT count(*) FROM process_instance WHERE status = 'complete'")
                ),
                "open_tasks": conn.scalar(
                    text("SELECT count(*) FROM human_task WHERE state = 'open'")
                ),
                "human_task_rows": conn.scalar(text("SELECT count(*) FROM human_task")),
                "event_rows": conn.scalar(text("SELECT count(*) FROM instance_event")),
                "job_rows": conn.scalar(text("SELECT count(*) FROM job")),
            }

    def wait_idle(self, timeout: float = 90.0) -> float:
        """Wait until the workers have no queued, running or retry job; return the seconds."""
        t0 = time.perf_counter()
        sql = text("SELECT count(*) FROM job WHERE status IN ('queued', 'running', 'retry')")
        while True:
            with self.engine.connect() as conn:
                if not conn.scalar(sql):
                    return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"the workers did not finish their jobs within {timeout:.0f} s")
            time.sleep(0.1)

    def template(self, status: str, offering_key: str) -> int:
        """The newest instance of the offering in `status` (the one to copy)."""
        table = self.meta.tables["process_instance"]
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(func.max(table.c.id)).where(
                    table.c.status == status, table.c.offering_key == offering_key
                )
            )
        if found is None:
            raise RuntimeError(f"no {status} {offering_key} instance to copy")
        return found

    # -- finished history (SQL) ------------------------------------------------------------------

    def add_finished(self, count: int, template_id: int, log=print) -> float:
        """Copy the finished instance `template_id` `count` times; return the seconds it took."""
        t0 = time.perf_counter()
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            with self.engine.begin() as conn:
                base = conn.scalar(text("SELECT coalesce(max(id), 0) FROM process_instance"))
                for table in TABLES:
                    conn.execute(
                        text(self._copy_sql(table)),
                        {"n": n, "base": base, "tid": template_id, "back": self.seeded_finished},
                    )
                self._fix_sequences(conn)
            done += n
            self.seeded_finished += n
            log(f"     ... {self.seeded_finished:,} finished copies")
        return time.perf_counter() - t0

    def _series(self) -> str:
        if self.dialect == "postgresql":
            return "generate_series(1, :n) AS s(i)"
        return (
            "(WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < :n)"
            " SELECT i FROM r) AS s"
        )

    def _shift(self, column: str) -> str:
        """`column` moved back by (back + s.i) * FINISHED_STEP_S seconds."""
        seconds = f"((:back + s.i) * {FINISHED_STEP_S})"
        if self.dialect == "postgresql":
            return f"t.{column} - {seconds} * interval '1 second'"
        # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff': keep the fraction, move the rest
        return (
            f"strftime('%Y-%m-%d %H:%M:%S', t.{column}, '-' || {seconds} || ' seconds')"
            f" || substr(t.{column}, 20)"
        )

    def _unique_task_id(self, prefix: str) -> str:
        """A 36-character id unique per copy: prefix + 11-digit instance id + the UUID's tail."""
        if self.dialect == "postgresql":
            number = "lpad(CAST(:base + s.i AS text), 11, '0')"
        else:
            number = "printf('%011d', :base + s.i)"
        return f"'{prefix}' || {number} || substr(t.task_id, 13)"

    def _copy_sql(self, table: str) -> str:
        link = LINK[table]
        names, values = [], []
        for column in self.meta.tables[table].columns:
            name = column.name
            if name == "id" and table != "process_instance":
                continue  # the database numbers the child rows
            names.append(name)
            if name == link:
                values.append(":base + s.i")
            elif name == "task_id":
                values.append(self._unique_task_id("h" if table == "human_task" else "j"))
            elif isinstance(column.type, DateTime):
                values.append(self._shift(name))
            else:
                values.append(f"t.{name}")
        order = "s.i" if table == "process_instance" else "s.i, t.id"
        return (
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)}"
            f" FROM {self._series()} CROSS JOIN {table} t WHERE t.{link} = :tid ORDER BY {order}"
        )

    def _fix_sequences(self, conn) -> None:
        if self.dialect != "postgresql":
            return  # SQLite's INTEGER PRIMARY KEY continues from max(rowid)
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('process_instance', 'id'),"
                " (SELECT max(id) FROM process_instance))"
            )
        )

    # -- open instances (Python: a task id of its own inside each workflow) ----------------------

    def add_open(self, count: int, template_id: int) -> float:
        """Copy an instance waiting at one user step `count` times; return the seconds it took."""
        t0 = time.perf_counter()
        tables = {name: self.meta.tables[name] for name in TABLES}
        with self.engine.begin() as conn:
            instance = dict(
                conn.execute(
                    select(tables["process_instance"]).where(
                        tables["process_instance"].c.id == template_id
                    )
                )
                .one()
                ._mapping
            )
            children = {
                name: [
                    dict(row._mapping)
                    for row in conn.execute(
                        select(tables[name]).where(tables[name].c.instance_id == template_id)
                    )
                ]
                for name in ("human_task", "job", "instance_event")
            }
            open_tasks = [t for t in children["human_task"] if t["state"] == "open"]
            if len(open_tasks) != 1 or children["job"]:
                raise RuntimeError(
                    f"instance {template_id}: expected one open task and no job to copy"
                )
            old_task = open_tasks[0]["task_id"]
            doc = document(instance["workflow_json"])
            if old_task not in doc:
                raise RuntimeError(f"task {old_task} is not in instance {template_id}'s workflow")
            base = conn.scalar(text("SELECT coalesce(max(id), 0) FROM process_instance"))
            rows = {name: [] for name in TABLES}
            for i in range(1, count + 1):
                new_id, new_task = base + i, str(uuid.uuid4())
                back = timedelta(seconds=i * OPEN_STEP_S)
                raw = doc.replace(old_task, new_task).encode()
                rows["process_instance"].append(
                    _moved(instance, back)
                    | {
                        "id": new_id,
                        "workflow_json": COMPRESSED
                        + base64.b64encode(zlib.compress(raw, 6)).decode("ascii"),
                    }
                )
                for name in ("human_task", "instance_event"):
                    for row in children[name]:
                        copy = _moved(row, back) | {"instance_id": new_id}
                        copy.pop("id")
                        if name == "human_task":
                            copy["task_id"] = new_task
                        rows[name].append(copy)
            for name in TABLES:
                if rows[name]:
                    conn.execute(insert(tables[name]), rows[name])
            self._fix_sequences(conn)
        self.seeded_open += count
        return time.perf_counter() - t0


def _moved(row: dict, back: timedelta) -> dict:
    """A copy of a row with every datetime moved back by `back`."""
    return {k: v - back if isinstance(v, datetime) else v for k, v in row.items()}
