"""How long each web page takes on the server with 10,000 requests in the database.

    .venv/bin/python bench/pages.py [--instances 10000] [--runs 40]

A few real requests are run through the engine (start, approve, laptop, reject) to get genuine
workflow documents; 10,000 rows are then cloned from them straight into SQLite (instances, open
steps, history, failed jobs) in one transaction, spread over the demo users. Each page is then
fetched with the Flask test client, signed in as the person who would open it, and p50 / p95
server times are printed beside the 200 ms target. Nothing is asserted.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/pages.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from api.app import create_app, sync_bundled  # noqa: E402
from engine.db import db, utcnow  # noqa: E402
from engine.identity.models import User  # noqa: E402
from engine.instances import service  # noqa: E402
from engine.instances.models import HumanTask, InstanceEvent, Job, ProcessInstance  # noqa: E402
from workers import jobs  # noqa: E402

TARGET_MS = 200.0
ONBOARDING = {
    "first_name": "Wei",
    "last_name": "Zhang",
    "username": "wei.zhang",
    "personal_email": "wei@example.com",
    "department": "engineering",
    "role": "Backend engineer",
    "start_date": "2099-06-01",
    "employment_type": "employee",
    "location": "shanghai",
}
STORE = {
    "store_id": "S0123",
    "store_name": "Chengdu Taikoo Li",
    "region": "west",
    "address": "1 Zhongshamao Street",
    "opening_date": "2099-06-01",
}


def make_app(folder: Path):
    app = create_app(
        {
            "TESTING": True,
            "DISPATCHER": "record",
            "DATABASE_URL": f"sqlite:///{folder / 'pages.db'}",
            "ATTACHMENTS_DIR": str(folder / "files"),
            "TIMER_POLL_SECONDS": 3600,
        }
    )
    with app.app_context():
        db.create_all()
        sync_bundled(app)
        result = app.test_cli_runner().invoke(args=["flowdesk", "seed-demo", "--no-requests"])
        assert result.exit_code == 0, result.output
        db.session.remove()
    return app


def drain(app) -> None:
    dispatch = app.extensions["flowdesk"].dispatch
    done = 0
    while done < len(dispatch.job_ids):
        with app.app_context():
            jobs.execute_job(dispatch.job_ids[done], config=app.config, dispatch=dispatch)
            db.session.remove()
        done += 1


def user(name: str) -> User:
    return db.session.scalar(select(User).filter_by(username=name))


def task_of(instance_id: int, bpmn_id: str) -> HumanTask:
    return db.session.scalar(
        select(HumanTask).filter_by(instance_id=instance_id, bpmn_id=bpmn_id, state="open")
    )


def real_templates(app) -> dict[str, int]:
    """Run a few requests through the engine; return instance ids by shape."""
    dispatch = app.extensions["flowdesk"].dispatch
    shapes = {}
    with app.app_context():
        hr, manager, agent = user("hr"), user("manager"), user("it_agent")
        shapes["approval"] = service.start_instance(
            "new_hire_onboarding", ONBOARDING, user=hr, dispatch=dispatch
        ).id
        done = service.start_instance("new_hire_onboarding", ONBOARDING, user=hr, dispatch=dispatch)
        task = task_of(done.id, "manager_approval")
        service.complete_task(task.task_id, {"manager_approved": True},
                              user=manager, dispatch=dispatch)  # fmt: skip
        db.session.remove()
    drain(app)
    with app.app_context():
        agent = user("it_agent")
        task = task_of(done.id, "prepare_laptop")
        shapes["laptop"] = done.id
        service.complete_task(task.task_id,
                              {"asset_tag": "LT-004211", "laptop_model": "thinkpad_t14"},
                              user=agent, dispatch=dispatch)  # fmt: skip
        db.session.remove()
    drain(app)
    with app.app_context():
        requester, manager = user("requester"), user("manager")
        store = service.start_instance(
            "store_opening_it_readiness", STORE, user=requester, dispatch=dispatch
        )
        shapes["plan_review"] = store.id
        rejected = service.start_instance(
            "store_opening_it_readiness", STORE, user=requester, dispatch=dispatch
        )
        task = task_of(rejected.id, "plan_review")
        service.complete_task(task.task_id,
                              {"plan_approved": False, "plan_comment": "Network freeze"},
                              user=manager, dispatch=dispatch)  # fmt: skip
        shapes["rejected"] = rejected.id
        db.session.remove()
    drain(app)
    shapes["complete"] = shapes.pop("laptop")
    return shapes


def clone(app, shapes: dict[str, int], count: int) -> None:
    """Insert `count` instances cloned from the real ones, with open steps, history and jobs."""
    rng = random.Random(4)
    now = utcnow()
    with app.app_context():
        templates = {k: db.session.get(ProcessInstance, v) for k, v in shapes.items()}
        people = {u.username: u.id for u in db.session.scalars(select(User))}
        first_id = (db.session.scalar(select(db.func.max(ProcessInstance.id))) or 0) + 1
        instances, tasks, events, failed = [], [], [], []
        for n in range(count):
            instance_id = first_id + n
            roll = rng.random()
            shape = ("approval" if roll < 0.2 else "plan_review" if roll < 0.3 else
                     "rejected" if roll < 0.4 else "complete")  # fmt: skip
            status = templates[shape].status
            if rng.random() < 0.01:
                status = "error"
            elif rng.random() < 0.02 and shape in ("approval", "plan_review"):
                status = "cancelled"
            source = templates[shape]
            owner = "requester" if source.offering_key.startswith("store") else "hr"
            if rng.random() < 0.3:
                owner = rng.choice(["designer", "admin", "it_agent"])
            created = now - timedelta(minutes=count - n)
            instances.append(dict(
                id=instance_id, process_version_id=source.process_version_id,
                offering_key=source.offering_key, status=status, outcome=source.outcome,
                title=f"{source.title} {instance_id}", workflow_json=source.workflow_json,
                serializer_version=source.serializer_version, requested_by_id=people[owner],
                created_at=created, updated_at=created, version=1,
                completed_at=created if status in ("complete", "cancelled") else None,
            ))  # fmt: skip
            events.append(dict(instance_id=instance_id, kind="started", actor_id=people[owner],
                               payload={"version": 1}, created_at=created))  # fmt: skip
            if status in ("user_input_required", "error"):
                bpmn_id = "manager_approval" if shape == "approval" else "plan_review"
                group = "managers" if shape == "approval" else "it_leads"
                tasks.append(dict(
                    instance_id=instance_id, task_id=str(uuid.uuid4()), bpmn_id=bpmn_id,
                    name="Approve onboarding" if shape == "approval" else "Review readiness plan",
                    lane="Managers", candidate_group=group, state="open",
                    offering_key=source.offering_key, created_at=created,
                    due_at=created + timedelta(days=2),
                    form_key=f"{source.offering_key}.{bpmn_id}"
                    if shape == "plan_review" else "new_hire_onboarding.manager_approval",
                ))  # fmt: skip
            if status == "error":
                failed.append(dict(
                    instance_id=instance_id, task_id=str(uuid.uuid4()), bpmn_id="create_accounts",
                    operation="directory.create_account", params={}, status="failed",
                    attempts=4, error="ConnectionError: directory unreachable",
                    created_at=created, updated_at=created,
                ))  # fmt: skip
            if status == "complete":
                payload = {"outcome": source.outcome}
                events.append(dict(instance_id=instance_id, kind="completed", actor_id=None,
                                   payload=payload, created_at=created))  # fmt: skip
        for table, rows in ((ProcessInstance, instances), (HumanTask, tasks),
                            (InstanceEvent, events), (Job, failed)):  # fmt: skip
            for start in range(0, len(rows), 2000):
                db.session.execute(insert(table), rows[start : start + 2000])
        db.session.commit()
        db.session.remove()


class Browser:
    """The Flask test client signed in as one demo user."""

    def __init__(self, app, username: str):
        import re

        self.client = app.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = self.client.post(
            "/login", data={"username": username, "password": "demo", "csrf_token": token}
        )
        assert response.status_code == 302, response.status_code

    def time(self, url: str, runs: int) -> list[float]:
        for _ in range(3):  # warm up: templates compiled, specs cached
            self._get(url)
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            self._get(url)
            timings.append((time.perf_counter() - start) * 1000)
        return timings

    def _get(self, url: str) -> None:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        response.close()


def pages(app, shapes: dict[str, int]) -> list[tuple[str, str, str]]:
    with app.app_context():
        manager_task = db.session.scalar(
            select(HumanTask.task_id)
            .filter_by(state="open", candidate_group="managers")
            .order_by(HumanTask.id.desc())
            .limit(1)
        )
        db.session.remove()
    approval, complete = shapes["approval"], shapes["complete"]
    return [
        ("catalog", "hr", "/catalog"),
        ("catalog search", "hr", "/catalog?q=laptop"),
        ("service page + start form", "hr", "/services/new_hire_onboarding"),
        ("my requests", "hr", "/requests"),
        ("my requests, page 100", "hr", "/requests?page=100"),
        ("my requests, search", "hr", "/requests?q=Zhang"),
        ("request timeline (open)", "hr", f"/requests/{approval}"),
        ("request timeline (done)", "hr", f"/requests/{complete}"),
        ("inbox", "manager", "/inbox"),
        ("inbox, my groups, newest", "manager", "/inbox?scope=groups&sort=new"),
        ("inbox, search", "manager", "/inbox?q=Onboarding"),
        ("inbox, overdue", "manager", "/inbox?due=overdue"),
        ("task page (approval)", "manager", f"/inbox/tasks/{manager_task}"),
        ("instance diagram page", "it_agent", f"/console/requests/{approval}"),
        ("failed steps", "admin", "/console/failed"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowdesk-pages-") as folder:
        app = make_app(Path(folder))
        started = time.perf_counter()
        shapes = real_templates(app)
        clone(app, shapes, args.instances)
        with app.app_context():
            total = db.session.scalar(select(db.func.count()).select_from(ProcessInstance))
            open_tasks = db.session.scalar(
                select(db.func.count()).select_from(HumanTask).filter_by(state="open")
            )
            db.session.remove()
        print(f"seeded {total} requests ({open_tasks} open steps) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        browsers = {}
        print(f"\n{'page':34} {'p50 ms':>8} {'p95 ms':>8}   target p95 <= {TARGET_MS:.0f} ms")
        worst = 0.0
        for label, username, url in pages(app, shapes):
            browser = browsers.setdefault(username, Browser(app, username))
            timings = sorted(browser.time(url, args.runs))
            p50 = statistics.median(timings)
            p95 = timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))]
            worst = max(worst, p95)
            flag = "" if p95 <= TARGET_MS else "  over target"
            print(f"{label:34} {p50:8.1f} {p95:8.1f}{flag}")
        print(f"\nslowest p95: {worst:.1f} ms ({'within' if worst <= TARGET_MS else 'OVER'} "
              f"the {TARGET_MS:.0f} ms target)")  # fmt: skip
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
