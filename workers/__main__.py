"""`python -m workers`: an RQ worker process (plus the timer poller and the lost-job sweep).

Run as many as wanted, on any machine that reaches the database and Redis.
"""

import argparse
import logging
import threading
import time

from redis import Redis
from rq import Queue, SimpleWorker

from api.app import create_app
from engine import versions
from workers import jobs
from workers.dispatch import poll, poller_id

log = logging.getLogger("workers")


def _poll_forever(app, dispatch, interval: float) -> None:
    holder = poller_id()
    while True:
        try:
            poll(app, dispatch, holder=holder)
        except Exception:  # the CLI-level guard: log and keep polling
            log.exception("poller error")
        time.sleep(interval)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--no-poller", action="store_true", help="do not fire timers here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app({"DISPATCHER": "rq"})
    if not app.config.get("REDIS_URL"):
        parser.error(
            "FLOWDESK_REDIS_URL is not set (without Redis, `make run` runs jobs in-process)"
        )
    jobs.set_worker_app(app)
    with app.app_context():
        versions.sync_library(app.extensions["flowdesk"].library)
    dispatch = app.extensions["flowdesk"].dispatch
    if not args.no_poller:
        interval = float(app.config["TIMER_POLL_SECONDS"])
        threading.Thread(target=_poll_forever, args=(app, dispatch, interval), daemon=True).start()
    redis = Redis.from_url(app.config["REDIS_URL"])
    worker = SimpleWorker([Queue(app.config["QUEUE_NAME"], connection=redis)], connection=redis)
    worker.work(with_scheduler=True, burst=args.burst, logging_level="INFO")


if __name__ == "__main__":
    main()
