"""Read-only queries for views: pages, an instance's history, open steps and business data."""

from sqlalchemy import func, select

from engine import runtime, serializer, versions
from engine.models import HumanTask, InstanceEvent, ProcessInstance, db


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
    """Return the request's business data (deserializes the workflow once)."""
    spec, subprocess_specs = versions.specs_for(instance.process_version)
    workflow = serializer.loads(
        instance.workflow_json, spec, subprocess_specs, runtime.SCRIPT_ENGINE
    )
    return runtime.data(workflow)
