"""Tell readers waiting on a request (`GET /instances/<id>?wait=…`) that it changed.

After each commit that changed a request (its row, or one of its open steps), the ids are
published: to the waiting threads of this process (`LocalChanges`: the embedded platform, whose
worker is a thread of the web process), or through a Redis channel to every web process
(`RedisChanges`, whenever jobs go through RQ). A reader registers before it reads the row and
waits only if the row is still as the client saw it, so a change between the read and the wait
is never missed. A lost message costs the reader its wait, never a wrong answer: it reads the
row again at the end of the wait either way.
"""

import logging
import threading
import weakref
from collections import defaultdict
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from engine.instances.models import HumanTask, ProcessInstance

log = logging.getLogger(__name__)
CHANNEL = "flowdesk:instance-changed"
PENDING = "flowdesk_changed_instances"  # session.info key: ids changed in this transaction


class LocalChanges:
    """Waiting readers of this process, by instance id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[int, set[threading.Event]] = defaultdict(set)

    @contextmanager
    def watching(self, instance_id: int):
        """An event set when the instance changes from now on (register before reading it)."""
        changed = threading.Event()
        with self._lock:
            self._waiting[instance_id].add(changed)
        try:
            yield changed
        finally:
            with self._lock:
                events = self._waiting.get(instance_id)
                if events is not None:
                    events.discard(changed)
                    if not events:
                        del self._waiting[instance_id]

    def wake(self, instance_ids) -> None:
        with self._lock:
            for instance_id in instance_ids:
                for changed in self._waiting.get(instance_id, ()):
                    changed.set()

    def publish(self, instance_ids: list[int]) -> None:
        self.wake(instance_ids)


class RedisChanges(LocalChanges):
    """Changes published on a Redis channel; one listener thread per process that waits."""

    def __init__(self, redis_url: str):
        super().__init__()
        from redis import Redis

        self._redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        self._listener: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def publish(self, instance_ids: list[int]) -> None:
        from redis.exceptions import RedisError

        self.wake(instance_ids)  # this process's readers need no round trip
        try:
            self._redis.publish(CHANNEL, ",".join(map(str, instance_ids)))
        except RedisError as exc:  # readers elsewhere wait out their time and read again
            log.warning("change of %s not published (%s)", instance_ids, exc)

    @contextmanager
    def watching(self, instance_id: int):
        self._listen()
        with super().watching(instance_id) as changed:
            yield changed

    def _listen(self) -> None:
        with self._start_lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(
                    target=self._run, name="flowdesk-changes", daemon=True
                )
                self._listener.start()

    def _run(self) -> None:
        from redis.exceptions import RedisError

        try:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            for message in pubsub.listen():
                ids = [int(i) for i in str(message.get("data", b""), "ascii").split(",") if i]
                self.wake(ids)
        except (RedisError, ValueError) as exc:  # the next wait starts a new listener
            log.warning("change listener stopped (%s)", exc)


def make_changes(app) -> LocalChanges:
    """Redis when jobs go through RQ (other processes commit), else this process only."""
    kind = app.config["DISPATCHER"]
    if kind == "rq" or (kind == "auto" and app.config.get("REDIS_URL")):
        return RedisChanges(app.config["REDIS_URL"])
    return LocalChanges()


_TARGETS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # engine -> its app's changes


def publish_commits(changes: LocalChanges, engine) -> None:
    """Publish, after each commit on this engine, the requests whose row or open steps it
    changed (one set of listeners for every app of the process, each app its own engine)."""
    _TARGETS[engine] = changes


@event.listens_for(Session, "after_flush")
def _collect(session, _flush_context):
    ids = session.info.setdefault(PENDING, set())
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, ProcessInstance) and obj.id is not None:
            ids.add(obj.id)
        elif isinstance(obj, HumanTask) and obj.instance_id is not None:
            ids.add(obj.instance_id)


@event.listens_for(Session, "after_commit")
def _publish(session):
    ids = session.info.pop(PENDING, None)
    if not ids:
        return
    try:
        changes = _TARGETS.get(session.get_bind())
    except Exception:  # noqa: BLE001 - no bind to name the app: nobody of ours waits on it
        changes = None
    if changes is not None:
        changes.publish(sorted(ids))


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(PENDING, None)
