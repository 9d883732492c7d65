"""CPU-time and memory limits for code from process designers (scripts, expressions, templates).

A watchdog thread reads the CPU clock of each thread running limited code. Once the thread has
used its budget, the watchdog raises `OutOfTime` in it (PyThreadState_SetAsyncExc), and again every
tick until the limited block ends: an `except` or a `finally` in the script cannot keep it
running. `OutOfTime` derives from BaseException and the sandbox offers neither BaseException nor
a bare `except`, so scripts cannot catch it. The clock is the thread's CPU time, never wall
clock: a busy machine does not stop code that would finish.

A single C-level operation cannot be interrupted between bytecodes; the sandbox bounds those
(integer sizes, ranges, the memory cap below).
"""

import ctypes
import resource
import threading
import time
from contextlib import contextmanager

TICK_SECONDS = 0.02
MEMORY_LIMIT = 256 * 2**20  # bytes limited code may add to its process


class OutOfTime(BaseException):  # noqa: N818 - raised into foreign code, not an error of ours
    """Raised into a thread whose limited code used up its CPU budget."""


class _Guard:
    def __init__(self, limit: float):
        self.thread_id = threading.get_ident()
        self.clock = _thread_clock()
        self.deadline = _now(self.clock) + limit
        self.done = False
        self.fired = False


def _thread_clock():
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None  # no per-thread CPU clock here: fall back to the monotonic clock


def _now(clock) -> float:
    return time.monotonic() if clock is None else time.clock_gettime(clock)


class _Watchdog:
    """One daemon thread per process that raises OutOfTime into threads over their budget."""

    def __init__(self):
        self.lock = threading.Lock()
        self.guards: set[_Guard] = set()
        self.thread: threading.Thread | None = None

    def watch(self, guard: _Guard) -> None:
        with self.lock:
            self.guards.add(guard)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="sandbox-watchdog",
                                               daemon=True)  # fmt: skip
                self.thread.start()

    def release(self, guard: _Guard) -> None:
        """Stop watching; cancel an OutOfTime raised but not delivered yet.

        An OutOfTime may still arrive while this runs (it was on its way): then release again,
        until the guard is off the list and nothing is pending for the thread.
        """
        while True:
            try:
                with self.lock:
                    guard.done = True
                    self.guards.discard(guard)
                    _set_async_exc(guard.thread_id, None)
                return
            except OutOfTime:
                continue

    def _run(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            with self.lock:
                for guard in list(self.guards):
                    try:
                        over = not guard.done and _now(guard.clock) > guard.deadline
                    except OSError:  # the thread is gone
                        self.guards.discard(guard)
                        continue
                    if over:
                        guard.fired = True
                        _set_async_exc(guard.thread_id, OutOfTime)


def _set_async_exc(thread_id: int, exc) -> None:
    """Raise `exc` in a thread at its next bytecode (None: cancel what is pending)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


_WATCHDOG = _Watchdog()


@contextmanager
def cpu_limited(seconds: float):
    """Run the block with a budget of `seconds` of this thread's CPU time.

    Raises:
        OutOfTime: the block used its budget (the caller turns it into its own error).
    """
    guard = _Guard(seconds)
    _WATCHDOG.watch(guard)
    try:
        yield guard
    finally:
        _WATCHDOG.release(guard)
    if guard.fired:  # it ran past its budget, and something swallowed the interruption
        raise OutOfTime


_CAP_LOCK = threading.Lock()
_cap = {"users": 0, "saved": None}  # limited blocks running in this process; the limit before


def _data_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None  # not Linux: no memory cap, the time limit still applies
    return None


@contextmanager
def memory_capped(extra: int = MEMORY_LIMIT):
    """Lower RLIMIT_DATA to the process's use plus `extra` bytes while the block runs.

    The limit is per process: threads share it, so it is set by the first running block and
    restored by the last. An allocation beyond it raises MemoryError in the block.
    """
    with _CAP_LOCK:
        if _cap["users"] == 0:
            used = _data_bytes()
            _cap["saved"] = resource.getrlimit(resource.RLIMIT_DATA) if used else None
            if _cap["saved"]:
                soft, hard = _cap["saved"]
                cap = used + extra
                for bound in (soft, hard):
                    if bound != resource.RLIM_INFINITY:
                        cap = min(cap, bound)
                resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
        _cap["users"] += 1
    try:
        yield
    finally:
        with _CAP_LOCK:
            _cap["users"] -= 1
            if _cap["users"] == 0 and _cap["saved"]:
                resource.setrlimit(resource.RLIMIT_DATA, _cap["saved"])
