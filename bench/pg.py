"""A throwaway PostgreSQL 15 for the bench: tests/servers.py's start_postgres(), plus its pids.

The server runs from a temp data directory on a free port with fsync off (as in the tests): the
figures are for the platform's work, not for a disk's flush latency. stop() ends exactly this
server (pg_ctl on its data directory; SIGKILL to its postmaster pid as a last resort).
"""

import os
import signal
import time
from pathlib import Path

from bench import stack
from tests.servers import Postgres, start_postgres

DATABASE = "flowdesk_bench"


class BenchPostgres:
    def __init__(self):
        self.server: Postgres | None = None
        self.postmaster: int | None = None
        self.url = ""

    def start(self, log=print) -> str:
        t0 = time.perf_counter()
        self.server = start_postgres()
        self.postmaster = _postmaster_pid(self.server.data_dir)
        self.url = self.server.create_database(DATABASE)
        log(
            f"  PostgreSQL on :{self.server.port} ({self.server.data_dir}),"
            f" up in {time.perf_counter() - t0:.1f} s"
        )
        return self.url

    def pids(self) -> list[int]:
        if self.postmaster is None:
            return []
        return [self.postmaster, *stack._children(self.postmaster)]

    def cpu_seconds(self) -> float:
        """CPU time of the postmaster and its live backends (ended backends are not counted)."""
        return sum(stack.cpu_seconds(pid) for pid in self.pids())

    def rss_kib(self) -> int:
        return sum(stack.rss_kib(pid)[0] or 0 for pid in self.pids())

    def stop(self) -> None:
        if self.server is None:
            return
        server, self.server = self.server, None
        server.stop()  # pg_ctl stop -m immediate, then the data directory is removed
        if self.postmaster is not None:
            deadline = time.monotonic() + 5
            while _alive(self.postmaster) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(self.postmaster):
                try:
                    os.kill(self.postmaster, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.postmaster = None


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
