"""Restricted script environment for BPMN scripts, conditions, timer and parameter expressions.

Scripts come from process designers, so they are compiled with RestrictedPython (no imports, no
`_`-prefixed names or attributes, guarded item access and writes) and run under a CPU-time limit
(the running thread's CPU time, checked between opcodes; never wall clock, so a busy machine does
not fail a script that would finish) and a memory limit (the process's RLIMIT_DATA, lowered to
what it uses plus SCRIPT_MEMORY_LIMIT while a script runs). `**` and `pow()` are checked before
they run: one huge integer power is a single opcode the clock cannot interrupt.
"""

import ast
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

from engine.bpmn.limits import MEMORY_LIMIT, OutOfTime, cpu_limited, memory_capped

SCRIPT_TIME_LIMIT = 2.0  # seconds of the thread's CPU time per script or expression
SCRIPT_MEMORY_LIMIT = MEMORY_LIMIT  # bytes a running script may add to its process
MAX_INT_BITS = 250_000  # the largest integer `*`, `<<` and `**` may build (one C call each)
# Exceptions a script may catch, by name: all below Exception, so none catches the time limit.
CATCHABLE = ("ArithmeticError", "AssertionError", "AttributeError", "IndexError", "KeyError",
             "LookupError", "NameError", "OverflowError", "RuntimeError", "StopIteration",
             "TypeError", "UnicodeError", "ValueError", "ZeroDivisionError")  # fmt: skip

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
    """Code rejected by RestrictedPython or stopped by a limit (time, memory, integer size).

    A custom class because a bare SyntaxError without `lineno` crashes SpiffWorkflow 3.2.0's
    error reporting.
    """


def days_before(iso_date: str, days: int, at: str = "09:00", tz: str = "+08:00") -> str:
    """Return the ISO date-time `days` before `iso_date`, at the given local time and offset."""
    day = date.fromisoformat(str(iso_date)[:10]) - timedelta(days=int(days))
    return datetime.fromisoformat(f"{day.isoformat()}T{at}:00{tz}").isoformat()


def _too_big(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise RestrictedScriptError(f"{what} is too large (more than {MAX_INT_BITS:,} bits)")


def _mul(a, b):
    """`*` for scripts: refuse integer products too large to compute in one step."""
    if isinstance(a, int) and isinstance(b, int):
        _too_big(abs(a).bit_length() + abs(b).bit_length(), "the product")
    return a * b


def _lshift(a, b):
    """`<<` for scripts: refuse shifts that build integers too large."""
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _too_big(abs(a).bit_length() + b, "the shifted number")
    return a << b


def _pow(base, exponent, modulus=None):
    """`**` and pow() for scripts: refuse integer powers too large to compute in time."""
    if modulus is None and isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1:
            _too_big(exponent * abs(base).bit_length(), f"{base} ** {exponent}")
    return pow(base, exponent) if modulus is None else pow(base, exponent, modulus)


_INPLACE = {
    "+=": lambda a, b: a + b,
    "-=": lambda a, b: a - b,
    "*=": _mul,
    "/=": lambda a, b: a / b,
    "//=": lambda a, b: a // b,
    "%=": lambda a, b: a % b,
    "<<=": _lshift,
    "**=": _pow,
}
_GUARDED_BINOPS = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_"}


def _inplacevar(op, x, y):
    if op not in _INPLACE:
        raise RestrictedScriptError(f"operator {op} is not allowed")
    return _INPLACE[op](x, y)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: `**`, `*` and `<<` compile to guarded calls, and an
    `except` names the exceptions it catches (from CATCHABLE), so nothing catches the limits."""

    def visit_BinOp(self, node: ast.BinOp):
        node = self.node_contents_visit(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        name = ast.copy_location(ast.Name(guard, ast.Load()), node)
        call = ast.Call(func=name, args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler):
        names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for name in names:
            if not isinstance(name, ast.Name) or name.id not in CATCHABLE:
                shown = "a bare except" if name is None else f"except {ast.unparse(name)}"
                self.error(node, f"Line {node.lineno}: {shown} is not allowed; name what to "
                                 f"catch: {', '.join(CATCHABLE)}")  # fmt: skip
                return node
        return self.node_contents_visit(node)

    visit_TryStar = RestrictingNodeTransformer.not_allowed


def _builtins() -> dict:
    builtins = dict(safe_globals["__builtins__"])
    builtins.update(limited_builtins)
    builtins.update(utility_builtins)
    import builtins as real  # the module, not the sandbox: we copy selected names out of it

    for name in _EXTRA_BUILTINS:
        builtins[name] = getattr(real, name)
    for name in ("string", "math", "random", "whrandom", "set", "frozenset"):
        builtins.pop(name, None)  # modules and mutable helpers designers do not need
    for name in [n for n in builtins if n[:1].isupper() and n.endswith(("Error", "Exception",
                 "Exit", "Interrupt", "Warning"))]:  # fmt: skip
        if name not in CATCHABLE:
            builtins.pop(name)  # BaseException, Exception, SystemExit, MemoryError...
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
        "_mul_": _mul,
        "_lshift_": _lshift,
        "datetime": datetime,
        "timedelta": timedelta,
        "date": date,
        "timezone": timezone,
        "days_before": days_before,
    }


@lru_cache(maxsize=1)
def _missing_builtins() -> frozenset[str]:
    import builtins as real  # the module: which of its names the sandbox leaves out

    names = {  # exception classes fail where they are raised, as the hardening tests show
        n
        for n in dir(real)
        if not n.startswith("_")
        and not (isinstance(getattr(real, n), type) and issubclass(getattr(real, n), BaseException))
    }
    # RestrictedPython rewrites print to _print_
    return frozenset(names - set(_builtins()) - set(script_globals()) - {"print"})


def unavailable_names(code: str) -> list[str]:
    """Python builtins the code reads that the sandbox does not have (`open`, `vars`, ...).

    They would compile, then fail on a requester's instance with a NameError; a name the code
    assigns itself is its own.
    """
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return []
    loaded, stored = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            stored.add(node.name)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
    return sorted((loaded - stored) & _missing_builtins())


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
    """Run designer code under the CPU and memory limits; every way out is an Exception."""
    try:
        with cpu_limited(limit), memory_capped(SCRIPT_MEMORY_LIMIT):
            return run()
    except OutOfTime as exc:
        raise RestrictedScriptError(
            f"script exceeded the time limit of {limit:g} s of CPU"
        ) from exc
    except MemoryError as exc:
        raise RestrictedScriptError(
            f"script exceeded the memory limit of {SCRIPT_MEMORY_LIMIT // 2**20} MB"
        ) from exc
    except RecursionError as exc:
        raise RestrictedScriptError("script recursed too deeply") from exc
    except BaseException as exc:  # SystemExit and friends must not leave the sandbox
        if isinstance(exc, Exception):
            raise
        raise RestrictedScriptError(f"script raised {type(exc).__name__}") from exc


MAX_DATA_CHARS = 1_000_000  # the text a request's data may hold, all strings together
MAX_DATA_DEPTH = 64
MAX_STORED_INT_BITS = 14_000  # JSON writes integers of at most 4,300 digits
_STORABLE = (str, int, float, bool, type(None), list, tuple, dict, datetime, date, timedelta)


def check_storable(data: dict) -> None:
    """Refuse what a script left in the data that cannot be stored as JSON, or is too large.

    Raises:
        RestrictedScriptError: naming the variable (a generator, a complex number, NaN...).
    """
    budget = [MAX_DATA_CHARS]
    for name, value in data.items():
        problem = _unstorable(value, budget, 0)
        if problem:
            raise RestrictedScriptError(f"'{name}' cannot be stored: {problem}")


def _unstorable(value, budget: list, depth: int) -> str | None:
    if depth > MAX_DATA_DEPTH:
        return f"nested more than {MAX_DATA_DEPTH} deep"
    if not isinstance(value, _STORABLE):
        return f"a {type(value).__name__} is not data (text, numbers, lists, objects)"
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "not a finite number"
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value).bit_length() > MAX_STORED_INT_BITS:
            return "a number too large to store"
    if isinstance(value, str):
        budget[0] -= len(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return "an object whose keys are not text"
            budget[0] -= len(key)
            problem = _unstorable(item, budget, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        for item in value:
            problem = _unstorable(item, budget, depth + 1)
            if problem:
                return problem
    if budget[0] < 0:
        return f"the data would hold more than {MAX_DATA_CHARS:,} characters"
    return None


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
        check_storable(context)
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
