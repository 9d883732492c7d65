"""Figure (q): SQL statements and commits per onboarding request, by part, counted in-process.

The same request as (c) (start, the manager's approval, the chained account and VPN jobs, the
laptop step, the last job, one status read) through the API's test client and the job runner,
on a fresh SQLite file, with a counter on the engine. It runs without gunicorn, Redis or RQ, so
it counts the statements FlowDesk itself sends, not the time they take.
"""

import functools
import tempfile
from collections import Counter
from pathlib import Path

from sqlalchemy import event

from bench.scenario import PROCESS_KEY, REQUESTER, STEP_USERS, USER_STEPS, start_data

WARM_UP = 2  # requests first, so caches (specs, roles) are as a running server's


class Counting:
    """Statements and commits on one engine, and what each statement reads or writes."""

    def __init__(self, engine):
        self.statements, self.commits, self.kinds = 0, 0, Counter()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn, _cursor, statement, _params, _context, _executemany):
        self.statements += 1
        words = statement.split()
        verb = words[0].upper() if words else "?"
        table = ""
        for key in ("FROM", "INTO", "UPDATE"):
            if key in words:
                table = words[words.index(key) + 1].strip('"')
                break
        if verb == "UPDATE" and len(words) > 1:
            table = words[1].strip('"')
        self.kinds[f"{verb} {table}".strip()] += 1

    def _commit(self, _conn):
        self.commits += 1

    def take(self) -> tuple[int, int]:
        taken = (self.statements, self.commits)
        self.statements, self.commits = 0, 0
        return taken


def measure(requests: int = 10) -> dict:
    # imported here: `bench/run.py --only bare` should not need the app
    from api.app import create_app, sync_bundled
    from engine.db import db
    from workers import jobs

    directory = Path(tempfile.mkdtemp(prefix="flowdesk-bench-sql-"))
    app = create_app({
        "TESTING": True, "DISPATCHER": "record", "TIMER_POLL_SECONDS": 3600,
        "DATABASE_URL": f"sqlite:///{directory / 'flowdesk.db'}",
        "ATTACHMENTS_DIR": str(directory / "files"),
    })  # fmt: skip
    with app.app_context():
        db.create_all()
        sync_bundled(app)
        app.test_cli_runner().invoke(args=["flowdesk", "seed-demo", "--no-requests"])
        counting = Counting(db.engine)
        db.session.remove()
    client = app.test_client()
    dispatch = app.extensions["flowdesk"].dispatch

    def call(method: str, url: str, user: str, body=None):
        answer = client.open(url, method=method, json=body,
                             headers={"Authorization": f"Bearer demo-{user}"})  # fmt: skip
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {url}: {answer.status_code} {answer.get_data(True)}")
        return answer.get_json()

    def run_jobs() -> None:
        while dispatch.job_ids:
            job_id = dispatch.job_ids.pop(0)
            with app.app_context():
                jobs.execute_job(job_id, config=app.config, dispatch=dispatch)
                db.session.remove()

    parts: dict[str, list[tuple[int, int]]] = {}

    def part(name: str, action) -> None:
        counting.take()
        action()
        parts.setdefault(name, []).append(counting.take())

    for index in range(WARM_UP + requests):
        if index == WARM_UP:
            counting.kinds.clear()  # what repeats, over the counted requests only
        holder = {}

        def start(index=index, holder=holder):
            body = {"offering": PROCESS_KEY, "data": start_data(f"bench.q{index}")}
            holder["instance"] = call("POST", "/api/v1/instances", REQUESTER, body)

        def complete(step: str, data: dict, holder=holder):
            tasks = [t for t in holder["instance"]["open_tasks"] if t["bpmn_id"] == step]
            if not tasks:  # the workers moved it on: read it again
                holder["instance"] = call("GET", f"/api/v1/instances/{holder['instance']['id']}",
                                          REQUESTER)  # fmt: skip
                tasks = [t for t in holder["instance"]["open_tasks"] if t["bpmn_id"] == step]
            holder["instance"] = call("POST", f"/api/v1/tasks/{tasks[0]['task_id']}/complete",
                                      STEP_USERS[step], {"data": data})  # fmt: skip

        def read(holder=holder):
            holder["instance"] = call("GET", f"/api/v1/instances/{holder['instance']['id']}",
                                      REQUESTER)  # fmt: skip

        part("start", start)
        (first, first_data), (second, second_data) = USER_STEPS
        part(f"complete {first}", functools.partial(complete, first, first_data))
        part(f"jobs after {first}", run_jobs)
        part("one GET /instances/<id>", read)
        part(f"complete {second}", functools.partial(complete, second, second_data))
        part(f"jobs after {second}", run_jobs)
        counting.take()
        read()
        counting.take()
        if holder["instance"]["status"] != "complete":
            raise RuntimeError(f"request {holder['instance']['id']} is {holder['instance']}")
    per_part = {}
    for name, samples in parts.items():
        kept = samples[WARM_UP:]
        per_part[name] = {
            "statements": sum(s for s, _c in kept) / len(kept),
            "commits": sum(c for _s, c in kept) / len(kept),
        }
    request_parts = [v for k, v in per_part.items() if not k.startswith("one GET")]
    with app.app_context():
        db.engine.dispose()
    return {
        "requests": requests,
        "parts": per_part,
        "statements_per_request": sum(p["statements"] for p in request_parts),
        "commits_per_request": sum(p["commits"] for p in request_parts),
        "most_repeated": [  # per request, with the status reads counted in
            (kind, round(n / requests, 1)) for kind, n in counting.kinds.most_common(14)
        ],
    }


def run(args, log) -> dict:
    requests = max(int(getattr(args, "sql_requests", 10)), 1)
    out = measure(requests)
    log()
    log(f"(q) SQL statements per onboarding request, in-process, {requests} requests (SQLite)")
    for name, figures in out["parts"].items():
        log(
            f"  {name:30} {figures['statements']:6.1f} statements {figures['commits']:4.1f} commits"
        )
    log(f"  per request (without the GET): {out['statements_per_request']:.0f} statements,"
        f" {out['commits_per_request']:.0f} commits")  # fmt: skip
    log("  most repeated, per request: " + ", ".join(f"{k} {n:g}" for k, n in out["most_repeated"]))
    return out


def summary_rows(result: dict) -> list[tuple]:
    total = result["statements_per_request"]
    return [("SQL statements per request", f"{total:.0f} ({result['commits_per_request']:.0f}"
             " commits)", "<= 50", "yes" if total <= 50 else "NO", "issue 14")]  # fmt: skip
