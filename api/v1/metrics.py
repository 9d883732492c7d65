"""Prometheus metrics (text format) for monitoring: needs a token of an admin or agent."""

from flask import Response
from flask_smorest import Blueprint
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from api.v1.context import current_user, dispatcher
from engine.automation import reads as automation
from engine.identity import roles

blp = Blueprint("metrics", __name__, url_prefix="/api/v1", description="Monitoring")


@blp.get("/metrics")
@blp.doc(
    operationId="getMetrics",
    responses={
        "200": {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics():
    """Requests and jobs by status, open failed steps, due timers, queue depth."""
    roles.check_handles_failed_steps(current_user())
    counts = automation.operational_counts()
    registry = CollectorRegistry()
    instances = Gauge("flowdesk_instances", "Requests by status", ["status"], registry=registry)
    for status, count in counts["instances"].items():
        instances.labels(status).set(count)
    jobs = Gauge("flowdesk_jobs", "Jobs by status", ["status"], registry=registry)
    for status, count in counts["jobs"].items():
        jobs.labels(status).set(count)
    Gauge(
        "flowdesk_failed_steps_open",
        "Automated steps out of attempts, awaiting an operator",
        registry=registry,
    ).set(counts["failed_steps"])
    Gauge("flowdesk_timers_due", "Instances with a timer due now", registry=registry).set(
        counts["timers_due"]
    )
    Gauge(
        "flowdesk_oldest_queued_job_seconds", "Age of the oldest queued job", registry=registry
    ).set(counts["oldest_queued_seconds"])
    depth = _queue_depth()
    if depth is not None:
        Gauge("flowdesk_queue_length", "Jobs waiting in Redis", registry=registry).set(depth)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _queue_depth() -> int | None:
    queue = getattr(dispatcher(), "queue", None)
    if queue is None:
        return None
    try:
        return queue.count
    except RedisError:
        return None
