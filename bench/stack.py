"""Start and stop a throw-away FlowDesk: redis-server, SQLite in a temp dir (or a database URL,
e.g. a throwaway PostgreSQL), gunicorn, RQ workers.

Every process is started in its own session (process group), so stop() ends exactly the processes
this module started, children included (gunicorn's workers, RQ's scheduler), and nothing else.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path


@dataclass
class Stack:
    web_workers: int = 2
    web_threads: int = 4
    rq_workers: int = 2
    keep: bool = False
    database_url: str | None = None  # None: a fresh SQLite file in the temp dir
    # A job whose worker raised out of the job wrapper stays `running` until its lease ends (300 s
    # by default): far beyond the bench's 60 s per instance. Jobs take ~0.1 s, so 5 s is safe (a
    # job run twice is harmless by design); crashed_jobs() counts how often the lease had to
    # rescue a job: any such job is a bug, and it slows its instance down by the lease.
    job_lease_seconds: float = 5.0
    tmpdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="flowdesk-bench-")))
    services: list[Service] = field(default_factory=list)
    web_port: int = 0
    redis_port: int = 0

    @property
    def db_path(self) -> Path:
        return self.tmpdir / "flowdesk.db"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            FLOWDESK_DATABASE_URL=self.url,
            FLOWDESK_DEMO="1",
            FLOWDESK_REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            FLOWDESK_JOB_LEASE_SECONDS=str(self.job_lease_seconds),
            PYTHONUNBUFFERED="1",
        )
        env.pop("FLOWDESK_DISPATCHER", None)
        return env

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, log=print) -> None:
        self.redis_port, self.web_port = free_port(), free_port()
        log(f"  temp dir {self.tmpdir}")
        self._spawn(
            "redis",
            [REDIS_SERVER, "--port", str(self.redis_port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--daemonize", "no"]
            + ["--dir", str(self.tmpdir)],
        )
        self._wait_redis()
        flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
        for step in (
            ["db", "upgrade"],
            ["flowdesk", "sync"],
            ["flowdesk", "seed-demo", "--no-requests"],
        ):
            t0 = time.perf_counter()
            self._run(flask + step)
            log(f"  flask {' '.join(step)}: {time.perf_counter() - t0:.1f} s")
        self._spawn(
            "web",
            [str(VENV_BIN / "gunicorn"), "-w", str(self.web_workers), "--threads"]
            + [str(self.web_threads), "-b", f"127.0.0.1:{self.web_port}"]
            # gunicorn 27's control socket defaults to ~/.gunicorn/gunicorn.ctl, shared by every
            # gunicorn of the user: keep ours in the temp dir
            + ["--control-socket", str(self.tmpdir / "gunicorn.ctl"), "wsgi:app"],
        )
        for i in range(self.rq_workers):
            self._spawn(f"worker{i + 1}", [str(VENV_BIN / "python"), "-m", "workers"])
        self._wait_web()
        self._wait_rq_workers()

    def add_workers(self, count: int) -> None:
        """Start `count` more `python -m workers` processes and wait until they registered."""
        for _ in range(count):
            self.rq_workers += 1
            self._spawn(f"worker{self.rq_workers}", [str(VENV_BIN / "python"), "-m", "workers"])
        self._wait_rq_workers()

    def stop(self) -> None:
        """End every started process group: web and workers first, Redis last.

        SIGTERM, then SIGKILL after a grace period; the group is killed even when its leader has
        exited, so no child (gunicorn worker, RQ scheduler) outlives the bench.
        """
        first = [s for s in self.services if s.name != "redis"]
        last = [s for s in self.services if s.name == "redis"]
        for group in (first, last):
            for service in group:
                if service.process.poll() is None:
                    _signal_group(service.process, signal.SIGTERM)
            deadline = time.monotonic() + 8
            for service in group:
                try:
                    service.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    pass
                _signal_group(service.process, signal.SIGKILL)
                try:
                    service.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.services.clear()

    def cleanup(self) -> None:
        self.stop()
        if not self.keep:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- introspection ---------------------------------------------------------------------------

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far, per service, children included."""
        out = {}
        for service in self.services:
            pids = [service.process.pid, *_children(service.process.pid)]
            out[service.name] = sum(cpu_seconds(pid) for pid in pids)
        return out

    def processes(self) -> list[tuple[str, int]]:
        """(role, pid) of the web and worker processes, children included."""
        found = []
        for service in self.services:
            if service.name == "redis":
                continue
            pid = service.process.pid
            kids = _children(pid)
            if service.name == "web":
                found.append(("web master", pid))
                found += [(f"web worker {i + 1}", kid) for i, kid in enumerate(kids)]
            else:
                found.append((service.name, pid))
                found += [(f"{service.name} child", kid) for kid in kids]
        return found

    def tail_logs(self, lines: int = 30) -> str:
        out = []
        for service in self.services:
            try:
                text = service.log_path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            out.append(f"--- {service.name} ({service.log_path}) ---")
            out += text
        return "\n".join(out)

    def crashed_jobs(self) -> int:
        """RQ jobs that raised out of the job wrapper so far (their rows wait for the lease)."""
        found = 0
        for service in self.services:
            if service.name.startswith("worker"):
                try:
                    text = service.log_path.read_text(errors="replace")
                except OSError:
                    continue
                found += text.count("exception raised while executing")
        return found

    def check_alive(self) -> None:
        for service in self.services:
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {service.process.returncode}; "
                    f"log: {service.log_path}\n{self.tail_logs()}"
                )

    # -- helpers ---------------------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log_path = self.tmpdir / f"{name}.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.services.append(Service(name, process, log_path))

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(
            cmd, cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    def _wait_redis(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def _wait_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if requests.get(f"{self.base_url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the web server did not come up\n{self.tail_logs()}")

    def _wait_rq_workers(self, timeout: float = 60) -> None:
        from redis import Redis
        from rq import Worker

        redis = Redis(port=self.redis_port)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.check_alive()
                if len(Worker.all(connection=redis)) >= self.rq_workers:
                    return
                time.sleep(0.1)
        finally:
            redis.close()
        raise RuntimeError(f"the RQ workers did not register\n{self.tail_logs()}")


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the group this module created (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            kids.append(int(entry.name))
    return sorted(kids)


def rss_kib(pid: int) -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc/<pid>/status."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values.get("VmRSS"), values.get("VmHWM")


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of stat(5)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICKS, total / _TICKS


def cpu_snapshot(platform_stack: Stack, extra: dict | None = None) -> dict:
    """CPU seconds so far: per service of the stack, `extra` ({name: callable}), this process."""
    own = os.times()
    busy, total = machine_cpu()
    services = platform_stack.cpu_seconds()
    for name, read in (extra or {}).items():
        services[name] = read()
    return {
        "services": services,
        "bench": own.user + own.system,
        "busy": busy,
        "total": total,
        "wall": time.perf_counter(),
    }


def cpu_delta(before: dict, after: dict, instances: int) -> dict:
    """CPU used between two snapshots: per service (workers summed), the clients, everyone else."""
    used = {"web": 0.0, "workers": 0.0, "redis": 0.0}
    for name, seconds in after["services"].items():
        key = "workers" if name.startswith("worker") else name
        used[key] = used.get(key, 0.0) + seconds - before["services"].get(name, 0.0)
    used["bench clients"] = after["bench"] - before["bench"]
    wall = after["wall"] - before["wall"]
    busy = after["busy"] - before["busy"]
    return {
        "ms_per_instance": {k: v / instances * 1e3 for k, v in used.items()} if instances else {},
        "machine_busy_cpus": busy / wall if wall else 0.0,
        "other_cpus": max(busy - sum(used.values()), 0.0) / wall if wall else 0.0,
    }
