"""(x) The script sandbox's cost: a designer's script and a gateway condition, run as FlowDesk runs
them (RestrictedPython, the CPU watchdog, the memory cap, the storable-data check) against plain
`exec`/`eval` of the same compiled code, in one process.

    .venv/bin/python bench/run.py --only sandbox
"""

import time

from engine.bpmn.scripting import RestrictedEnvironment, compile_expression, compile_script

SCRIPT = "full_name = first_name + ' ' + last_name\ncount = len(items) * 2\nok = count > 3"
CONDITION = "manager_approved == True and department != 'finance'"
DATA = {"first_name": "Wei", "last_name": "Zhang", "items": [1, 2, 3],
        "manager_approved": True, "department": "engineering"}  # fmt: skip


def _per_call_us(run, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - started) / calls * 1e6


def run(args, log) -> dict:
    calls = max(int(getattr(args, "sandbox_calls", 20000)), 1000)
    environment = RestrictedEnvironment()
    script, condition = compile_script(SCRIPT), compile_expression(CONDITION)
    globals_ = environment.globals
    out = {
        "script_us": _per_call_us(lambda: environment.execute(SCRIPT, dict(DATA)), calls),
        "script_bare_us": _per_call_us(lambda: exec(script, {**globals_, **DATA}), calls),
        "condition_us": _per_call_us(lambda: environment.evaluate(CONDITION, DATA), calls),
        "condition_bare_us": _per_call_us(lambda: eval(condition, {**globals_, **DATA}), calls),
    }
    log()
    log(f"(x) the script sandbox, {calls} calls each")
    for name, bare in (("script", "exec"), ("condition", "eval")):
        limited, plain = out[f"{name}_us"], out[f"{name}_bare_us"]
        ratio = limited / plain
        log(f"  {name:9}  {limited:7.1f} us/call   plain {bare} {plain:6.1f} us   x{ratio:.1f}")
    return out


def summary_rows(result: dict) -> list[tuple]:
    measured = f"{result['script_us']:.0f} / {result['condition_us']:.0f} us"
    plain = f"{result['script_bare_us']:.0f} / {result['condition_bare_us']:.0f} us"
    return [("sandboxed script / condition", measured, "-", "-", f"plain exec/eval: {plain}")]
