"""A worker's health server: on the configured address, and shared by workers on one host."""

import socket

import pytest
import requests

from tests.stack import wait_for


def _free_run(length: int) -> int:
    """The first port of `length` consecutive ports that are free now."""
    for first in range(20000, 60000, 97):
        probes = []
        try:
            for port in range(first, first + length):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError("no free port range")


def _health(port: int):
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
    except requests.RequestException:
        return None


@pytest.mark.integration
def test_two_workers_on_one_host_share_one_health_setting(stack):
    first = _free_run(3)
    setting = f"127.0.0.1:{first}-{first + 2}"
    workers = [stack.start_worker(WORKER_HEALTH_ADDRESS=setting) for _ in range(2)]
    stack.wait_until_listening(workers)

    for port in (first, first + 1):
        wait_for(lambda port=port: _health(port) is not None, 30, what=f"health on {port}")
        answer = _health(port)
        assert answer.status_code == 200 and answer.json() == {"status": "ok", "problems": []}
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert metrics.status_code == 200 and "process_cpu_seconds_total" in metrics.text
    assert _health(first + 2) is None  # one port each, the third left free
    assert all(worker.poll() is None for worker in workers)
    log = stack.processes.output()
    assert f"health and metrics on http://127.0.0.1:{first}/health" in log
    assert f"health and metrics on http://127.0.0.1:{first + 1}/health" in log


@pytest.mark.integration
def test_a_worker_whose_health_port_is_taken_exits_and_says_why(stack):
    port = _free_run(1)
    holder = stack.start_worker(WORKER_HEALTH_ADDRESS=str(port))  # HOST defaults to 127.0.0.1
    wait_for(lambda: _health(port) is not None, 30, what="the first worker's health")

    second = stack.start_worker(WORKER_HEALTH_ADDRESS=str(port))
    assert second.wait(60) != 0
    assert f"every port {port}-{port} of 127.0.0.1 is in use" in stack.processes.output()
    assert holder.poll() is None and _health(port).status_code == 200


@pytest.mark.integration
def test_a_malformed_health_address_stops_the_worker_with_the_reason(stack):
    worker = stack.start_worker(WORKER_HEALTH_ADDRESS="localhost:http")  # more in tests/unit
    assert worker.wait(60) != 0
    assert "worker health address 'localhost:http'" in stack.processes.output()
