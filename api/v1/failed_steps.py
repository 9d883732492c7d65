"""Failed automated steps: list, and retry / correct / skip / cancel one or many at once."""

from flask_smorest import Blueprint

from api.v1 import openapi
from api.v1.context import current_user, dispatcher
from api.v1.schemas import (
    CorrectionSchema,
    FailedStepActionSchema,
    FailedStepListArgs,
    FailedStepOutcomeSchema,
    FailedStepPageSchema,
    FailedStepSchema,
    SkipFailedStepsSchema,
)
from engine.automation import reads as automation_reads
from engine.automation import service as automation
from engine.errors import InvalidInput, NotFound
from engine.identity import roles
from engine.instances import access, reads
from engine.instances import service as instances

blp = Blueprint(
    "failed_steps", __name__, url_prefix="/api/v1/failed-steps", description="Failed steps"
)
MAX_BULK = 1000


@blp.get("")
@blp.doc(
    operationId="listFailedSteps",
    **openapi.links(200, correctFailedStep={"job_id": "$response.body#/items/0/id"}),
)
@blp.arguments(FailedStepListArgs, location="query")
@blp.response(200, FailedStepPageSchema)
def list_failed_steps(args):
    """Open failed steps, oldest first; filter by offering, operation and error text."""
    user = current_user()
    roles.check_handles_failed_steps(user)
    query = automation_reads.failed_steps_query(
        offering=args.get("offering"), operation=args.get("operation"), error=args.get("error"),
        offerings=access.scoped_offerings(user),
    )  # fmt: skip
    items, total = reads.page(query, args["page"], args["page_size"])
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


def _targets(args) -> list[int]:
    if bool(args.get("ids")) == bool(args.get("filter")):
        raise InvalidInput(
            "Give either 'ids' or 'filter'.", errors={"ids": ["Either ids or filter."]}
        )
    if args.get("ids"):
        return list(dict.fromkeys(args["ids"]))
    offerings = access.scoped_offerings(current_user())
    return automation_reads.failed_step_ids(limit=MAX_BULK, offerings=offerings, **args["filter"])


@blp.post("/retry")
@blp.doc(operationId="retryFailedSteps")
@blp.arguments(FailedStepActionSchema)
@blp.response(200, FailedStepOutcomeSchema(many=True))
def retry(args):
    """Run the failed operations again (fresh attempt count)."""
    user = current_user()
    roles.check_handles_failed_steps(user)
    return automation.for_each(
        _targets(args),
        lambda i: automation.retry_failed_step(i, user=user, dispatch=dispatcher()),
    )


@blp.post("/skip")
@blp.doc(operationId="skipFailedSteps")
@blp.arguments(SkipFailedStepsSchema)
@blp.response(200, FailedStepOutcomeSchema(many=True))
def skip(args):
    """Resolve failed steps with a result supplied by the operator; the requests move on."""
    user = current_user()
    roles.check_handles_failed_steps(user)
    return automation.for_each(
        _targets(args),
        lambda i: automation.skip_failed_step(i, args["result"], user=user, dispatch=dispatcher()),
    )


@blp.post("/cancel")
@blp.doc(operationId="cancelFailedSteps")
@blp.arguments(FailedStepActionSchema)
@blp.response(200, FailedStepOutcomeSchema(many=True))
def cancel(args):
    """Cancel the requests that have these failed steps."""
    user = current_user()
    roles.check_handles_failed_steps(user)

    def cancel_one(job_id: int) -> None:
        instance_id = automation_reads.instance_of(job_id)
        if instance_id is None:
            raise NotFound(f"no failed step {job_id}")
        instances.cancel_instance(instance_id, user=user, reason=args["reason"] or "failed step")

    return automation.for_each(_targets(args), cancel_one)


@blp.post("/<int:job_id>/correct")
@blp.doc(operationId="correctFailedStep")
@blp.arguments(CorrectionSchema)
@blp.response(200, FailedStepSchema)
def correct(args, job_id):
    """Correct the data a failed step reads (e.g. a taken username) and run it again."""
    user = current_user()
    automation.correct_failed_step(job_id, args["changes"], user=user, dispatch=dispatcher())
    return automation_reads.job(job_id)
