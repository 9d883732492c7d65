"""Restricted script environment for BPMN scripts, conditions, timer and parameter expressions.

Scripts come from process designers, so they are compiled with RestrictedPython (no imports, no
`_`-prefixed names or attributes, guarded item access and writes) and run under a CPU-time limit
(the running thread's CPU time, checked between opcodes; never wall clock, so a busy machine does
not fail a script that would finish) and a memory limit (the process's RLIMIT_DATA, lowered to
what it uses plus SCRIPT_MEMORY_LIMIT while a script runs). `**` and `pow()` are checked before
they run: one huge integer power is a single opcode the clock cannot interrupt.
"""

import ast
import resource
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from RestrictedPython import (
    compile_restricted_eval,
    compile_restricted_exec,
    limited_builtins,
    safe_globals,
    utility_builtins,
)
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.util.task import TaskState

SCRIPT_TIME_LIMIT = 2.0  # seconds of the thread's CPU time per script or expression
SCRIPT_MEMORY_LIMIT = 256 * 2**20  # bytes a running script may add to its process
MAX_POWER_BITS = 1_000_000  # the largest integer `**` / pow() may build

_EXTRA_BUILTINS = (
    "dict",
    "list",
    "sum",
    "min",
    "max",
    "any",
    "all",
    "enumerate",
    "map",
    "filter",
    "sorted",
    "reversed",
    "len",
    "round",
    "abs",
    "str",
    "int",
    "float",
    "bool",
)


class RestrictedScriptError(Exception):
    """Code rejected by RestrictedPython or stopped by the time limit.

    A custom class because a bare SyntaxError without `lineno` crashes SpiffWorkflow 3.2.0's
    error reporting.
    """


def days_before(iso_date: str, days: int, at: str = "09:00", tz: str = "+08:00") -> str:
    """Return the ISO date-time `days` before `iso_date`, at the given local time and offset."""
    day = date.fromisoformat(str(iso_date)[:10]) - timedelta(days=int(days))
    return datetime.fromisoformat(f"{day.isoformat()}T{at}:00{tz}").isoformat()


def _inplacevar(op, x, y):
    operations = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if op not in operations:
        raise RestrictedScriptError(f"operator {op} is not allowed")
    return operations[op](x, y)


def _pow(base, exponent, modulus=None):
    """`**` and pow() for scripts: refuse integer powers too large to compute in time."""
    if modulus is None and isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and exponent * abs(base).bit_length() > MAX_POWER_BITS:
            raise RestrictedScriptError(
                f"{base} ** {exponent} is too large (more than {MAX_POWER_BITS:,} bits)"
            )
    return pow(base, exponent) if modulus is None else pow(base, exponent, modulus)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, with `a ** b` compiled as `_pow_(a, b)`."""

    def visit_BinOp(self, node: ast.BinOp):
        node = self.node_contents_visit(node)
        if not isinstance(node.op, ast.Pow):
            return node
        name = ast.copy_location(ast.Name("_pow_", ast.Load()), node)
        call = ast.Call(func=name, args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)


def _builtins() -> dict:
    builtins = dict(safe_globals["__builtins__"])
    builtins.update(limited_builtins)
    builtins.update(utility_builtins)
    import builtins as real  # the module, not the sandbox: we copy selected names out of it

    for name in _EXTRA_BUILTINS:
        builtins[name] = getattr(real, name)
    for name in ("string", "math", "random", "whrandom", "set", "frozenset"):
        builtins.pop(name, None)  # modules and mutable helpers designers do not need
    builtins["pow"] = _pow
    return builtins


def script_globals() -> dict:
    """Return the globals every script and expression sees."""
    return {
        "__builtins__": _builtins(),
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_print_": PrintCollector,
        "_pow_": _pow,
        "datetime": datetime,
        "timedelta": timedelta,
        "date": date,
        "timezone": timezone,
        "days_before": days_before,
    }


@lru_cache(maxsize=2048)
def compile_expression(expression: str):
    """Compile an expression in restricted mode; raise RestrictedScriptError if it is rejected."""
    result = compile_restricted_eval(expression.strip(), policy=_Policy)
    if result.errors:
        raise RestrictedScriptError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=1024)
def compile_script(script: str):
    """Compile a script in restricted mode; raise RestrictedScriptError if it is rejected."""
    result = compile_restricted_exec(script, policy=_Policy)
    if result.errors:
        raise RestrictedScriptError("; ".join(result.errors))
    return result.code


def _run_limited(run, limit: float):
    # Opcode tracing, because a one-line `while True: pass` emits no line events.
    deadline = time.thread_time() + limit
    ticks = 0

    def tracer(frame, event, arg):
        nonlocal ticks
        frame.f_trace_opcodes = True
        ticks += 1
        if ticks % 512 == 0 and time.thread_time() > deadline:
            raise RestrictedScriptError(f"script exceeded the time limit of {limit:g} s of CPU")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with _memory_capped():
            return run()
    except MemoryError as exc:
        raise RestrictedScriptError(
            f"script exceeded the memory limit of {SCRIPT_MEMORY_LIMIT // 2**20} MB"
        ) from exc
    finally:
        sys.settrace(previous)


_CAP_LOCK = threading.Lock()
_cap = {"scripts": 0, "saved": None}  # scripts running in this process; the limit before them


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
def _memory_capped():
    """Lower RLIMIT_DATA to the process's use plus SCRIPT_MEMORY_LIMIT while scripts run.

    The limit is per process: threads share it, so it is set by the first running script and
    restored by the last. An allocation beyond it raises MemoryError in the script.
    """
    with _CAP_LOCK:
        if _cap["scripts"] == 0:
            used = _data_bytes()
            _cap["saved"] = resource.getrlimit(resource.RLIMIT_DATA) if used else None
            if _cap["saved"]:
                soft, hard = _cap["saved"]
                cap = used + SCRIPT_MEMORY_LIMIT
                for bound in (soft, hard):
                    if bound != resource.RLIM_INFINITY:
                        cap = min(cap, bound)
                resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
        _cap["scripts"] += 1
    try:
        yield
    finally:
        with _CAP_LOCK:
            _cap["scripts"] -= 1
            if _cap["scripts"] == 0 and _cap["saved"]:
                resource.setrlimit(resource.RLIMIT_DATA, _cap["saved"])


class RestrictedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment that compiles with RestrictedPython and enforces a time limit."""

    def __init__(self, time_limit: float = SCRIPT_TIME_LIMIT):
        super().__init__(script_globals())
        self.time_limit = time_limit

    def evaluate(self, expression, context, external_context=None):
        code = compile_expression(expression)
        namespace = dict(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        return _run_limited(lambda: eval(code, namespace), self.time_limit)

    def execute(self, script, context, external_context=None):
        code = compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            _run_limited(lambda: exec(code, context), self.time_limit)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
            for key in [k for k in context if k.startswith("_")]:
                context.pop(key, None)  # _print and friends: not task data
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    """Script engine that adds per-task helpers (`open_steps()`) to the restricted environment."""

    def __init__(self, time_limit: float = SCRIPT_TIME_LIMIT):
        super().__init__(environment=RestrictedEnvironment(time_limit))

    def evaluate(self, task, expression, external_context=None):
        return super().evaluate(
            task, expression, {**_task_helpers(task), **(external_context or {})}
        )

    def execute(self, task, script, external_context=None):
        return super().execute(task, script, {**_task_helpers(task), **(external_context or {})})


def _task_helpers(task) -> dict:
    def open_steps() -> list[str]:
        top = task.workflow.top_workflow
        return [t.task_spec.bpmn_id for t in top.get_tasks(state=TaskState.READY, manual=True)]

    return {"open_steps": open_steps}
