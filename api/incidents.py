"""Failed automated steps (incidents): list, and retry / skip / cancel one or many at once."""

from flask_smorest import Blueprint
from sqlalchemy import select

from api.auth import current_user
from api.instances import dispatcher
from api.schemas import (
    IncidentActionSchema,
    IncidentListArgs,
    IncidentOutcomeSchema,
    IncidentPageSchema,
)
from engine import access, automation, queries, service
from engine.errors import InvalidInput, PlatformError
from engine.models import Job, db

blp = Blueprint("incidents", __name__, url_prefix="/api/v1/incidents", description="Incidents")
MAX_BULK = 1000


@blp.get("")
@blp.arguments(IncidentListArgs, location="query")
@blp.response(200, IncidentPageSchema)
def list_incidents(args):
    """Open incidents, oldest first; filter by offering, operation and error text."""
    access.check_can_operate(current_user())
    query = automation.incidents_query(
        offering=args.get("offering"), operation=args.get("operation"), error=args.get("error")
    )
    items, total = queries.page(query, args["page"], args["page_size"])
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


def _targets(args) -> list[int]:
    if bool(args.get("ids")) == bool(args.get("filter")):
        raise InvalidInput(
            "Give either 'ids' or 'filter'.", errors={"ids": ["Either ids or filter."]}
        )
    if args.get("ids"):
        return list(dict.fromkeys(args["ids"]))
    query = automation.incidents_query(**args["filter"]).with_only_columns(Job.id)
    return list(db.session.scalars(query.limit(MAX_BULK)))


def _each(job_ids: list[int], action) -> list[dict]:
    """Apply an action to each incident in its own transaction; report each outcome."""
    outcomes = []
    for job_id in job_ids:
        try:
            action(job_id)
            outcomes.append({"id": job_id, "outcome": "ok", "detail": None})
        except PlatformError as exc:
            db.session.rollback()
            outcomes.append({"id": job_id, "outcome": exc.code, "detail": exc.detail})
    return outcomes


@blp.post("/retry")
@blp.arguments(IncidentActionSchema)
@blp.response(200, IncidentOutcomeSchema(many=True))
def retry(args):
    """Run the failed operations again (fresh attempt count)."""
    user = current_user()
    access.check_can_operate(user)
    return _each(
        _targets(args), lambda i: automation.retry_incident(i, user=user, dispatch=dispatcher())
    )


@blp.post("/skip")
@blp.arguments(IncidentActionSchema)
@blp.response(200, IncidentOutcomeSchema(many=True))
def skip(args):
    """Resolve incidents with a result supplied by the operator; the requests move on."""
    user = current_user()
    access.check_can_operate(user)
    if "result" not in args:
        raise InvalidInput("Give the 'result' to use.", errors={"result": ["Required."]})
    return _each(
        _targets(args),
        lambda i: automation.skip_incident(i, args["result"], user=user, dispatch=dispatcher()),
    )


@blp.post("/cancel")
@blp.arguments(IncidentActionSchema)
@blp.response(200, IncidentOutcomeSchema(many=True))
def cancel(args):
    """Cancel the requests that have these incidents."""
    user = current_user()
    access.check_can_operate(user)

    def cancel_one(job_id: int) -> None:
        instance_id = db.session.scalar(select(Job.instance_id).where(Job.id == job_id))
        if instance_id is None:
            raise InvalidInput(f"no incident {job_id}")
        service.cancel_instance(instance_id, user=user, reason=args["reason"] or "incident")

    return _each(_targets(args), cancel_one)
