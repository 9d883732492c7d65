"""`python -m workers`: an RQ worker process, plus the poller and an optional health endpoint.

Run as many as wanted, on any machine that reaches the database and Redis. SIGTERM lets the
current job finish (RQ's warm shutdown); a job cut short by SIGKILL runs again after its lease.
"""

import argparse
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from api.app import create_app, sync_bundled
from workers import jobs
from workers.dispatch import poll, poller_id

log = logging.getLogger("workers")
_last_poll = {"at": time.monotonic()}


def _poll_forever(app, dispatch, interval: float) -> None:
    holder = poller_id()
    while True:
        try:
            poll(app, dispatch, holder=holder)
            _last_poll["at"] = time.monotonic()
        except BaseException as exc:  # the poller outlives anything but Ctrl-C
            if isinstance(exc, KeyboardInterrupt):
                raise
            log.exception("poller error; polling on")
        time.sleep(interval)


def _serve_health(port: int, redis: Redis, interval: float) -> None:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/metrics":
                body, status, kind = generate_latest(), 200, CONTENT_TYPE_LATEST
            elif self.path == "/health":
                problems = []
                try:
                    redis.ping()
                except RedisError as exc:
                    problems.append(f"redis: {exc}")
                if time.monotonic() - _last_poll["at"] > max(30.0, 10 * interval):
                    problems.append("poller stalled")
                status = 503 if problems else 200
                body = json.dumps({"status": "fail" if problems else "ok", "problems": problems})
                body, kind = body.encode(), "application/json"
            else:
                body, status, kind = b'{"status": 404}', 404, "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True, name="health").start()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--no-poller", action="store_true", help="do not fire timers here")
    parser.add_argument("--health-port", type=int, default=0, help="serve /health and /metrics")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # one line per task state change
    app = create_app({"DISPATCHER": "rq"})
    if not app.config.get("REDIS_URL"):
        parser.error(
            "FLOWDESK_REDIS_URL is not set (without Redis, `make run` runs jobs in-process)"
        )
    jobs.set_worker_app(app)
    sync_bundled(app)
    dispatch = app.extensions["flowdesk"].dispatch
    interval = float(app.config["TIMER_POLL_SECONDS"])
    if not args.no_poller:
        threading.Thread(
            target=_poll_forever, args=(app, dispatch, interval), daemon=True, name="poller"
        ).start()
    redis = Redis.from_url(app.config["REDIS_URL"])
    if args.health_port:
        _serve_health(args.health_port, redis, interval)
    _work(app, redis, burst=args.burst)


def _work(app, redis: Redis, *, burst: bool, worker_class=SimpleWorker) -> None:
    """Run the RQ loop until a warm shutdown (SIGTERM) or, with --burst, an empty queue.

    When Redis goes away, wait for it and start again; when the loop ends for any other reason
    (RQ returns on some errors), say so and start again. Nothing is lost meanwhile: job rows
    stay in the database and the poller re-sends them.
    """
    delay = 1.0
    while True:
        try:
            redis.ping()
            queue = Queue(app.config["QUEUE_NAME"], connection=redis)
            worker = worker_class([queue], connection=redis)
            worker.work(burst=burst, logging_level="INFO")
            if burst or getattr(worker, "_stop_requested", False):
                return  # burst done, or a warm shutdown (SIGTERM)
            log.error("the RQ loop ended without a shutdown; starting it again in %.0f s", delay)
        except RedisError as exc:
            log.warning("Redis unreachable (%s); trying again in %.0f s", exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, 30.0)


if __name__ == "__main__":
    main()
