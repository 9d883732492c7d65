"""Figure (c): FlowDesk end to end through the HTTP API, with clients as threads of this process.

Each client loops: hr starts an onboarding request, manager completes manager_approval, it_agent
completes prepare_laptop, then hr polls the instance until the workers have finished it.
"""

import math
import threading
import time
from dataclasses import dataclass, field

import requests

from bench.scenario import PROCESS_KEY, REQUESTER, STEP_USERS, USER_STEPS, start_data

TERMINAL_BAD = {"error", "cancelled"}


class BenchError(RuntimeError):
    pass


@dataclass
class Samples:
    """Per-sub-run measurements (seconds), appended to by every client thread."""

    start: list = field(default_factory=list)
    complete: list = field(default_factory=list)
    find_task: list = field(default_factory=list)  # inbox look-ups (only when needed / asked)
    poll: list = field(default_factory=list)
    tail: list = field(default_factory=list)  # last user step answered -> seen complete
    instance: list = field(default_factory=list)  # start sent -> seen complete
    retries: int = 0
    inbox_lookups: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, value: float) -> None:
        with self.lock:
            getattr(self, name).append(value)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


class Client:
    """One simulated front end: a keep-alive session per demo user."""

    def __init__(
        self,
        base_url: str,
        *,
        poll_interval: float,
        via_inbox: bool,
        timeout: float,
        wait_complete: bool = True,
        wait: float = 0.0,
    ):
        self.base_url = base_url
        self.wait = wait  # > 0: long polls (`?revision=&wait=`) instead of polling
        self.wait_complete = wait_complete
        self.poll_interval = poll_interval
        self.via_inbox = via_inbox
        self.timeout = timeout
        self.sessions = {}
        for user in {REQUESTER, *STEP_USERS.values()}:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer demo-{user}"
            self.sessions[user] = session

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()

    def _call(self, user: str, method: str, path: str, samples: Samples, **kwargs):
        """One API call; 409 (instance changed meanwhile) and 503 are retried a few times."""
        for attempt in range(5):
            response = self.sessions[user].request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
            if response.status_code in (409, 503) and attempt < 4:
                with samples.lock:
                    samples.retries += 1
                time.sleep(0.01 * (attempt + 1))
                continue
            if response.status_code >= 400:
                raise BenchError(
                    f"{method} {path} as {user}: HTTP {response.status_code} {response.text[:500]}"
                )
            return response.json()
        raise AssertionError("unreachable")

    def run_one(self, username: str, samples: Samples) -> None:
        t_begin = time.perf_counter()
        body = {"offering": PROCESS_KEY, "data": start_data(username)}
        t0 = time.perf_counter()
        instance = self._call(REQUESTER, "POST", "/api/v1/instances", samples, json=body)
        samples.add("start", time.perf_counter() - t0)
        instance_id = instance["id"]
        for bpmn_id, data in USER_STEPS:
            user = STEP_USERS[bpmn_id]
            task_id = None if self.via_inbox else _open_task(instance, bpmn_id)
            if task_id is None:
                task_id = self._find_in_inbox(user, instance_id, bpmn_id, samples)
            t0 = time.perf_counter()
            instance = self._call(
                user, "POST", f"/api/v1/tasks/{task_id}/complete", samples, json={"data": data}
            )
            samples.add("complete", time.perf_counter() - t0)
        t_last_step = time.perf_counter()
        deadline = t_last_step + self.timeout
        while instance["status"] != "complete" and self.wait_complete:
            if instance["status"] in TERMINAL_BAD:
                raise BenchError(f"instance {instance_id} ended {instance['status']}: {instance}")
            if time.perf_counter() > deadline:
                raise BenchError(f"instance {instance_id} stuck in {instance['status']}")
            url = f"/api/v1/instances/{instance_id}"
            if self.wait > 0:
                url += f"?revision={instance['revision']}&wait={self.wait:g}"
            else:
                time.sleep(self.poll_interval)
            t0 = time.perf_counter()
            instance = self._call(REQUESTER, "GET", url, samples)
            samples.add("poll", time.perf_counter() - t0)
        now = time.perf_counter()
        samples.add("tail", now - t_last_step)
        samples.add("instance", now - t_begin)

    def _find_in_inbox(self, user, instance_id, bpmn_id, samples) -> str:
        deadline = time.perf_counter() + self.timeout
        while True:
            t0 = time.perf_counter()
            page = self._call(
                user,
                "GET",
                "/api/v1/tasks",
                samples,
                params={"scope": "all", "offering": PROCESS_KEY, "page_size": 200},
            )
            samples.add("find_task", time.perf_counter() - t0)
            with samples.lock:
                samples.inbox_lookups += 1
            for item in page["items"]:
                if item["instance_id"] == instance_id and item["bpmn_id"] == bpmn_id:
                    return item["task_id"]
            if time.perf_counter() > deadline:
                raise BenchError(
                    f"step {bpmn_id} of instance {instance_id} never reached the inbox"
                )
            time.sleep(self.poll_interval)


def _open_task(instance: dict, bpmn_id: str) -> str | None:
    for task in instance.get("open_tasks", []):
        if task["bpmn_id"] == bpmn_id and task["state"] == "open":
            return task["task_id"]
    return None


def run_clients(
    base_url: str,
    *,
    clients: int,
    instances: int,
    tag: str,
    poll_interval: float,
    via_inbox: bool,
    timeout: float = 60.0,
    stop: threading.Event | None = None,
    wait_complete: bool = True,
    wait: float = 0.0,
) -> dict:
    """Run `instances` instances spread over `clients` concurrent clients; return the figures.

    wait_complete=False: each client goes on after the last user step, without waiting for the
    workers to finish the instance (for latency figures; the workers keep running meanwhile).
    """
    samples = Samples()
    counter = iter(range(instances))
    counter_lock = threading.Lock()
    errors: list[BaseException] = []
    stop = stop or threading.Event()

    def next_index():
        with counter_lock:
            return None if stop.is_set() or errors else next(counter, None)

    def loop():
        client = Client(
            base_url,
            poll_interval=poll_interval,
            via_inbox=via_inbox,
            timeout=timeout,
            wait_complete=wait_complete,
            wait=wait,
        )
        try:
            while (n := next_index()) is not None:
                client.run_one(f"{tag}{n:06d}", samples)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # short joins, so Ctrl-C reaches the main thread
            thread.join(timeout=0.2)
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    done = len(samples.instance)

    def ms(values, p):
        value = percentile(values, p)
        return None if value is None else value * 1e3

    return {
        "clients": clients,
        "instances": done,
        "wall_s": wall,
        "instances_per_s": done / wall if wall else 0.0,
        "start_p50_ms": ms(samples.start, 50),
        "start_p95_ms": ms(samples.start, 95),
        "complete_p50_ms": ms(samples.complete, 50),
        "complete_p95_ms": ms(samples.complete, 95),
        "poll_p50_ms": ms(samples.poll, 50),
        "poll_p95_ms": ms(samples.poll, 95),
        "inbox_p50_ms": ms(samples.find_task, 50),
        "inbox_p95_ms": ms(samples.find_task, 95),
        "tail_p50_ms": ms(samples.tail, 50),
        "tail_p95_ms": ms(samples.tail, 95),
        "instance_p50_ms": ms(samples.instance, 50),
        "instance_p95_ms": ms(samples.instance, 95),
        "polls_per_instance": len(samples.poll) / done if done else 0.0,
        "inbox_lookups": samples.inbox_lookups,
        "retries": samples.retries,
    }
