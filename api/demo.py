"""Demo requests for `flowdesk seed-demo`: what a new user should find in a fresh demo.

A few requests of each bundled offering in the states people meet: waiting for an approval,
approved and at a later step, rejected with a reason, cancelled, with a comment. They are
made through the same domain functions the web and the API call, and their automated steps run
at once, in this process, as a worker would run them.
"""

from collections.abc import Callable
from datetime import timedelta

from engine import clock
from engine.identity import reads as people
from engine.instances import reads, service

ONBOARDING = {
    "department": "engineering",
    "employment_type": "employee",
    "location": "shanghai",
}
NEW_HIRES = [  # first, last, username, role, what the manager does
    ("Wei", "Zhang", "wei.zhang", "Backend engineer", None),
    ("Na", "Li", "na.li", "Data analyst", "approve"),
    ("Tom", "Brown", "tom.brown", "Intern", "reject"),
]
STORES = [  # id, name, region, address, what happens
    ("S0101", "Chengdu Taikoo Li", "west", "8 Zhongshamao Street, Jinjiang", None),
    ("S0102", "Hangzhou West Lake", "east", "18 Hubin Road, Shangcheng", "approve"),
    ("S0103", "Beijing Sanlitun", "north", "19 Sanlitun Road, Chaoyang", "cancel"),
]


def seed_requests(execute: Callable[[int, Callable], object]) -> list[int]:
    """Create the demo requests unless there are requests already; return their ids.

    `execute(job_id, dispatch)` runs one automated step now, as a worker would (the CLI passes
    workers.jobs.execute_job with the app's settings).
    """
    if reads.any_instance():
        return []

    def _run(job_ids: list[int]) -> None:
        for job_id in job_ids:
            execute(job_id, _run)

    def _complete(instance_id: int, bpmn_id: str, data: dict, user) -> None:
        task = next(t for t in reads.open_tasks(instance_id) if t.bpmn_id == bpmn_id)
        service.complete_task(task.task_id, data, user=user, dispatch=_run)

    opening = (clock.today() + timedelta(days=30)).isoformat()
    hr, manager = people.user_by_username("hr"), people.user_by_username("manager")
    requester = people.user_by_username("requester")
    created = []
    for first, last, username, role, decision in NEW_HIRES:
        data = {
            **ONBOARDING,
            "first_name": first,
            "last_name": last,
            "username": username,
            "personal_email": f"{username}@example.com",
            "role": role,
            "start_date": opening,
        }
        instance = service.start_instance("new_hire_onboarding", data, user=hr, dispatch=_run)
        created.append(instance.id)
        if decision == "approve":
            _complete(instance.id, "manager_approval", {"manager_approved": True}, manager)
        elif decision == "reject":
            comment = "Interns start through the campus programme; please use that form."
            answer = {"manager_approved": False, "manager_comment": comment}
            _complete(instance.id, "manager_approval", answer, manager)
    for store_id, name, region, address, what in STORES:
        data = {
            "store_id": store_id,
            "store_name": name,
            "region": region,
            "address": address,
            "opening_date": opening,
        }
        instance = service.start_instance(
            "store_opening_it_readiness", data, user=requester, dispatch=_run
        )
        created.append(instance.id)
        if what == "approve":
            _complete(instance.id, "plan_review", {"plan_approved": True}, manager)
            service.add_comment(
                instance.id, "Landlord confirms the network room is ready.", user=requester
            )
        elif what == "cancel":
            service.cancel_instance(instance.id, user=requester, reason="Opening postponed")
    return created
