"""The far side of the fault tier's operations, checks that each effect happened once, fixtures."""

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers import RedisServer
from tests.stack import (
    Api,
    Call,
    LocalService,
    deploy,
    fixture_bpmn,
    query,
    run_platform,
    start_instance,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(eq=False)
class HeldCall:
    """A call whose answer the remote holds back; a test may claim it to kill its caller."""

    call: Call
    release: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    claimed: bool = False
    answering: bool = False


class Remote:
    """A remote system behind `http.request` that applies each Idempotency-Key's effect once.

    The effect of a call (its JSON body) is applied when the call arrives and the answer is a
    success; a key seen again is a re-delivery: counted, answered, never applied twice.
    `status_for(call)` picks the answer (e.g. 503 while the system is "down"); `hold(call)`
    returns how long to hold the answer back (seconds).
    """

    def __init__(self, service: LocalService):
        self.status_for: Callable[[Call], int] = lambda call: 200
        self.hold: Callable[[Call], float] = lambda call: 0.0
        self.applied: dict[str, Any] = {}  # Idempotency-Key -> the body applied
        self.redelivered: Counter[str] = Counter()
        self.held: list[HeldCall] = []
        self._lock = threading.Lock()
        service.respond = self
        self.url = service.url

    def __call__(self, call: Call) -> tuple[int, Any]:
        status = self.status_for(call)
        with self._lock:
            if status < 300:
                if call.key in self.applied:
                    self.redelivered[call.key] += 1
                else:
                    self.applied[call.key] = call.json
            held = HeldCall(call)
            self.held.append(held)
        try:
            self._wait(held, self.hold(call))
        finally:
            with self._lock:
                self.held.remove(held)
        held.answered.set()
        return status, {"applied": call.json}

    def _wait(self, held: HeldCall, seconds: float) -> None:
        if seconds > 0:
            held.release.wait(seconds)
        with self._lock:
            held.answering = not held.claimed
        if held.claimed:  # a test is about to kill the caller: keep it inside the call
            held.release.wait(30)

    def claim_held_call(self) -> HeldCall | None:
        """Take a held call that is not being answered yet; it stays held until released."""
        with self._lock:
            for held in self.held:
                if not held.answering and not held.claimed:
                    held.claimed = True
                    return held
        return None

    def effects(self) -> Counter:
        """How often each (ref, step or branch) effect was applied."""
        with self._lock:
            bodies = list(self.applied.values())
        return Counter((body["ref"], body.get("step", body.get("branch"))) for body in bodies)


def deploy_probe(api: Api, remote: Remote, fixture: str = "effect_probe", key: str = "") -> str:
    """Deploy a fixture process pointed at the remote; return its offering key."""
    key = key or fixture
    xml = fixture_bpmn(FIXTURES / f"{fixture}.bpmn", BASE_URL=remote.url, KEY=key)
    deploy(api, key, xml)
    return key


def start_many(api: Api, offering: str, refs) -> dict[str, int]:
    """Start one instance per ref (start data {"ref": ref}); return {ref: instance id}."""
    return {ref: start_instance(api, offering, {"ref": ref})["id"] for ref in refs}


def assert_applied_once(remote: Remote, expected: set[tuple]) -> None:
    """Every expected (ref, step) effect was applied exactly once, and nothing else was."""
    effects = remote.effects()
    missing = sorted(expected - set(effects))
    twice = sorted(effect for effect, count in effects.items() if count > 1)
    unexpected = sorted(set(effects) - expected)
    assert not missing, f"effects never applied: {missing}"
    assert not twice, f"effects applied more than once (under different keys): {twice}"
    assert not unexpected, f"effects nobody asked for: {unexpected}"


def rq_jobs_of_request(database_url: str, idempotency_key: str) -> set[str]:
    """The RQ job ids of every job of the request a call belongs to.

    A worker runs a request's next automated step in the same pass (workers.jobs' chain), so the
    call of step two may come from the worker whose RQ job is step one's.
    """
    job_id = int(idempotency_key.removeprefix("flowdesk-job-"))
    rows = query(database_url, "SELECT id FROM job WHERE instance_id = "
                 "(SELECT instance_id FROM job WHERE id = ?)", job_id)  # fmt: skip
    return {f"flowdesk-job-{row[0]}" for row in rows}


def job_rows(database_url: str, instance_ids) -> list[tuple]:
    """(instance id, bpmn id, status, attempts) of the jobs of these instances, in order."""
    rows = query(database_url, "SELECT instance_id, bpmn_id, status, attempts FROM job ORDER BY id")
    wanted = set(instance_ids)
    return [row for row in rows if row[0] in wanted]


@pytest.fixture
def remote(local_service) -> Remote:
    """The remote system behind `http.request`: applies each idempotency key once."""
    return Remote(local_service)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, which it may stop and start again."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack_on_own_redis(request, remote, database_url, own_redis, tmp_path):
    """This test's platform on its own redis-server (DB 0)."""
    with run_platform(request, database_url, f"{own_redis.url}/0", tmp_path) as started:
        yield started
