"""`python -m workers`: an RQ worker process, plus the poller and an optional health endpoint.

Run as many as wanted, on any machine that reaches the database and Redis. SIGTERM lets the
current job finish (RQ's warm shutdown); a job cut short by SIGKILL runs again after its lease.
"""

import argparse
import errno
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


def _serve_health(host: str, ports: range, redis: Redis, interval: float, *, poller: bool):
    """Serve /health and /metrics on HOST:PORT, or on the first free port of HOST:FIRST-LAST.

    A range lets several workers on one host share one configuration: each takes the next free
    port and logs it. Returns the bound (host, port); raises SystemExit when nothing is free.
    """

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
                if poller and time.monotonic() - _last_poll["at"] > max(30.0, 10 * interval):
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

    for port in ports:
        try:
            server = _HealthServer((host, port), Health)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise SystemExit(
                    f"worker health server: cannot bind {host}:{port}: {exc}"
                ) from None
            continue
        threading.Thread(target=server.serve_forever, daemon=True, name="health").start()
        bound = server.server_address[:2]
        log.info("health and metrics on http://%s:%s/health", *bound)
        return bound
    raise SystemExit(
        f"worker health server: every port {ports.start}-{ports.stop - 1} of {host} is in use"
    )


class _HealthServer(ThreadingHTTPServer):
    allow_reuse_address = True  # rebinding after a restart; a port in use still fails (Linux)
    allow_reuse_port = False  # a port another worker holds must fail to bind, not be shared
    daemon_threads = True


def parse_health_address(address: str) -> tuple[str, range]:
    """'9100', ':9100', '0.0.0.0:9100', '[::1]:9100' or a range '127.0.0.1:9100-9109'."""
    host, _, ports = address.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    first, dash, last = ports.partition("-")
    try:
        first, last = int(first), int(last if dash else first)
    except ValueError:
        raise SystemExit(
            f"worker health address {address!r}: expected [HOST:]PORT or [HOST:]PORT-PORT"
        ) from None
    if not 0 < first <= last < 65536:
        raise SystemExit(f"worker health address {address!r}: ports must be 1-65535, low to high")
    return host, range(first, last + 1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--no-poller", action="store_true", help="do not fire timers here")
    parser.add_argument(
        "--health",
        metavar="[HOST:]PORT[-PORT]",
        help="serve /health and /metrics there (default FLOWDESK_WORKER_HEALTH_ADDRESS; "
        "HOST defaults to 127.0.0.1; a port range lets workers on one host share it)",
    )
    parser.add_argument("--health-port", help=argparse.SUPPRESS)  # the old spelling
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # one line per task state change
    app = create_app({"DISPATCHER": "rq"})
    if not app.config.get("REDIS_URL"):
        parser.error(
            "FLOWDESK_REDIS_URL is not set (without Redis, `make run` runs jobs in-process)"
        )
    address = args.health or args.health_port or app.config["WORKER_HEALTH_ADDRESS"]
    health = parse_health_address(str(address)) if address else None
    jobs.set_worker_app(app)
    sync_bundled(app)
    dispatch = app.extensions["flowdesk"].dispatch
    interval = float(app.config["TIMER_POLL_SECONDS"])
    if not args.no_poller:
        threading.Thread(
            target=_poll_forever, args=(app, dispatch, interval), daemon=True, name="poller"
        ).start()
    redis = Redis.from_url(app.config["REDIS_URL"])
    if health:
        _serve_health(*health, redis, interval, poller=not args.no_poller)
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
            if burst or _shutdown_requested(worker):
                return  # burst done, or a warm shutdown (SIGTERM)
            log.error("the RQ loop ended without a shutdown; starting it again in %.0f s", delay)
        except RedisError as exc:
            log.warning("Redis unreachable (%s); trying again in %.0f s", exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, 30.0)


def _shutdown_requested(worker) -> bool:
    """Whether SIGTERM/SIGINT ended the loop. RQ marks `_stop_requested` only when the signal
    comes during a job; an idle worker leaves by StopRequested. Both record the date."""
    return bool(worker._stop_requested or worker._shutdown_requested_date)


if __name__ == "__main__":
    main()
