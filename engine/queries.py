"""Read-only queries for views: pages, an instance's history, open steps and business data."""

from sqlalchemy import func, select

from engine import runtime, store
from engine.models import HumanTask, InstanceEvent, Job, ProcessInstance, db, utcnow


def page(query, page_number: int, page_size: int) -> tuple[list, int]:
    """Return one page of a select() and the total count."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(page_size).offset((page_number - 1) * page_size)).all()
    return list(items), total or 0


def open_tasks(instance_id: int) -> list[HumanTask]:
    return list(
        db.session.scalars(
            select(HumanTask)
            .filter_by(instance_id=instance_id, state="open")
            .order_by(HumanTask.id)
        )
    )


def events(instance_id: int) -> list[InstanceEvent]:
    return list(
        db.session.scalars(
            select(InstanceEvent).filter_by(instance_id=instance_id).order_by(InstanceEvent.id)
        )
    )


def instance_data(instance: ProcessInstance) -> dict:
    """Return the request's business data (deserializes the workflow unless just saved)."""
    cached = getattr(instance, "business_data", None)
    if cached is not None:
        return cached
    return runtime.data(store.load_workflow(instance))


def operational_counts() -> dict:
    """Counts for monitoring: instances and jobs by status, open incidents, due timers and work."""
    instances = dict(
        db.session.execute(
            select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
        ).all()
    )
    jobs = dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    now = utcnow()
    oldest = db.session.scalar(select(func.min(Job.created_at)).where(Job.status == "queued"))
    timers_due = db.session.scalar(select(func.count()).where(ProcessInstance.next_timer_at <= now))
    return {
        "instances": instances,
        "jobs": jobs,
        "incidents": jobs.get("failed", 0),
        "timers_due": timers_due or 0,
        "oldest_queued_seconds": (now - oldest).total_seconds() if oldest else 0.0,
    }
