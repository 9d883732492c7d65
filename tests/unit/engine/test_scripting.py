"""engine.scripting: the RestrictedPython sandbox refuses escapes and still runs normal scripts."""

import resource
import threading
from datetime import datetime, timedelta

import pytest

from engine.bpmn import runtime
from engine.bpmn.scripting import (
    SCRIPT_MEMORY_LIMIT,
    RestrictedEnvironment,
    RestrictedScriptError,
    compile_expression,
    compile_script,
    days_before,
)
from engine.bpmn.specs import FlowDeskParser
from engine.errors import InvalidProcess, ProcessFailed
from tests.unit.support import SCRIPT_BODY, bpmn, parse

LIMIT_BEFORE = resource.getrlimit(resource.RLIMIT_DATA)


@pytest.fixture
def environment() -> RestrictedEnvironment:
    return RestrictedEnvironment(time_limit=0.2)


def run(environment: RestrictedEnvironment, script: str, **data) -> dict:
    environment.execute(script, data)
    return data


def test_execute_refuses_dunder_import_when_script_calls_it(environment, tmp_path):
    marker = tmp_path / "pwned"

    with pytest.raises(RestrictedScriptError, match="__import__"):
        run(environment, f"__import__('os').system('touch {marker}')")

    assert not marker.exists()


def test_execute_refuses_import_statement_when_script_runs(environment, tmp_path):
    marker = tmp_path / "pwned"

    with pytest.raises(ImportError):
        run(environment, f"import os\nos.system('touch {marker}')")

    assert not marker.exists()


def test_execute_refuses_open_when_script_reads_a_file(environment):
    with pytest.raises(NameError, match="open"):
        run(environment, "content = open('/etc/passwd').read()")


@pytest.mark.parametrize(
    "script",
    [
        "names = ().__class__.__base__.__subclasses__()",
        "names = [].__class__.__mro__[-1].__subclasses__()",
        "g = (i for i in [1])\nframe = g.gi_frame",
        "text = f'{x.__class__}'",
    ],
)
def test_compile_script_refuses_dunder_attributes_when_script_walks_the_object_graph(script):
    with pytest.raises(RestrictedScriptError):
        compile_script(script)


def test_execute_refuses_getattr_when_script_looks_up_dunder_by_name(environment):
    with pytest.raises(NameError, match="getattr"):
        run(environment, "cls = getattr(x, '__class__')", x=1)


@pytest.mark.parametrize(
    "script",
    [
        "text = '{0.__class__.__base__.__subclasses__}'.format(x)",
        "text = '{a.__class__}'.format_map({'a': x})",
        "text = str.format('{0.__globals__[sys].modules[os].environ}', days_before)",
    ],
)
def test_execute_refuses_str_format_when_template_reaches_attributes(environment, script):
    with pytest.raises(NotImplementedError, match="format"):
        run(environment, script, x=1)


@pytest.mark.parametrize("script", ["exec('x = 1')", "x = eval('1')"])
def test_compile_script_refuses_exec_and_eval(script):
    with pytest.raises(RestrictedScriptError):
        compile_script(script)


@pytest.mark.parametrize(
    "name", ["type", "object", "globals", "locals", "vars", "dir", "compile", "hasattr"]
)
def test_execute_hides_introspection_builtins(environment, name):
    with pytest.raises(NameError, match=name):
        run(environment, f"found = {name}")


def test_execute_stops_script_when_it_loops_forever(environment):
    with pytest.raises(RestrictedScriptError, match="time limit"):
        run(environment, "while True: pass")


def test_evaluate_stops_expression_when_it_runs_too_long():
    environment = RestrictedEnvironment(time_limit=0.05)
    with pytest.raises(RestrictedScriptError, match="time limit"):
        environment.evaluate(
            "sum(a * b for a in range(999) for b in range(999) for c in range(999))", {}
        )


@pytest.mark.parametrize(
    "script",
    [
        "x = 'x' * 10**10",
        "x = [0] * 10**9",
        "x = 'x'.ljust(10**10)",
        "x = f'{1:>10000000000}'",
        "x = 'ab'\nwhile True: x = x + x",
    ],
)
def test_execute_stops_script_when_it_builds_something_huge(script):
    # A CPU budget the memory limit always beats: page faults on a loaded machine are CPU time too
    with pytest.raises(RestrictedScriptError, match="memory limit"):
        run(RestrictedEnvironment(time_limit=30), script)

    assert resource.getrlimit(resource.RLIMIT_DATA) == LIMIT_BEFORE  # given back afterwards
    assert len(bytearray(SCRIPT_MEMORY_LIMIT + 2**20)) > SCRIPT_MEMORY_LIMIT


@pytest.mark.parametrize("script", ["x = 10**10**10", "x = pow(7, 10**9)", "x = 2; x = x ** 10**8"])
def test_execute_refuses_an_integer_power_too_large_to_compute(environment, script):
    # one opcode: the time limit could not interrupt it
    with pytest.raises(RestrictedScriptError, match="too large"):
        run(environment, script)


def test_execute_computes_ordinary_powers(environment):
    data = run(environment, "a = 2 ** 10\nb = 1.5 ** 2\nc = pow(3, 10**9, 7)\nd = (-1) ** 10**9")

    assert data == {"a": 1024, "b": 2.25, "c": pow(3, 10**9, 7), "d": 1}


def test_scripts_running_together_share_one_limit_and_give_it_back(environment):
    results, errors = [], []

    def script(text):
        try:
            results.append(run(RestrictedEnvironment(time_limit=1.0), text))
        except RestrictedScriptError as exc:
            errors.append(str(exc))

    threads = [
        threading.Thread(target=script, args=(t,))
        for t in ("y = 'x' * 10**10",) + ("total = sum(range(500))",) * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(errors) == 1 and "memory limit" in errors[0]
    assert [r["total"] for r in results] == [124750] * 4
    assert resource.getrlimit(resource.RLIMIT_DATA) == LIMIT_BEFORE


def test_execute_runs_arithmetic_when_script_is_normal(environment):
    data = run(
        environment,
        "total = price * qty - discount\nshare = total / 4\ntotal += 1",
        price=10,
        qty=3,
        discount=2,
    )

    assert data == {"price": 10, "qty": 3, "discount": 2, "total": 29, "share": 7.0}


def test_execute_formats_fstrings(environment):
    data = run(environment, "full_name = f'{first} {last}'.upper()", first="Wei", last="Zhang")

    assert data["full_name"] == "WEI ZHANG"


def test_execute_builds_dicts_and_lists(environment):
    script = (
        "counts = {'pos': 4}\n"
        "counts['cctv'] = 12\n"
        "names = sorted(counts)\n"
        "doubled = [n * 2 for n in counts.values()]\n"
        "doubled.append(1)\n"
        "first, *rest = doubled\n"
        "total = sum(doubled)"
    )

    data = run(environment, script)

    assert data["names"] == ["cctv", "pos"]
    assert data["doubled"] == [8, 24, 1]
    assert (data["first"], data["rest"], data["total"]) == (8, [24, 1], 33)


def test_execute_offers_days_before_and_datetime(environment):
    script = (
        "remind_at = days_before(start_date, 1)\n"
        "deadline = datetime(2030, 1, 10, 9, 0) + timedelta(days=2)\n"
        "weekday = date(2030, 1, 10).weekday()"
    )

    data = run(environment, script, start_date="2030-01-10")

    assert data["remind_at"] == "2030-01-09T09:00:00+08:00"
    assert data["deadline"] == datetime(2030, 1, 12, 9, 0)
    assert data["weekday"] == 3


def test_execute_leaves_no_helpers_in_task_data(environment):
    data = run(environment, "print('hello')\ntotal = 1")

    assert data == {"total": 1}


def test_evaluate_answers_gateway_condition(environment):
    assert environment.evaluate(
        "approved == True and amount > 10", {"approved": True, "amount": 11}
    )
    assert not environment.evaluate("len(items) > 2", {"items": [1, 2]})


def test_compile_expression_refuses_statement():
    with pytest.raises(RestrictedScriptError):
        compile_expression("x = 1")


@pytest.mark.parametrize(
    ("iso_date", "days", "expected"),
    [
        ("2030-03-01", 1, "2030-02-28T09:00:00+08:00"),
        ("2030-01-10T00:00:00", 3, "2030-01-07T09:00:00+08:00"),
        ("2030-01-10", 0, "2030-01-10T09:00:00+08:00"),
    ],
)
def test_days_before_returns_local_morning(iso_date, days, expected):
    assert days_before(iso_date, days) == expected


def test_days_before_honours_time_and_offset():
    due = datetime.fromisoformat(days_before("2030-01-10", 1, at="18:30", tz="+00:00"))

    assert due.isoformat() == "2030-01-09T18:30:00+00:00"
    assert due.utcoffset() == timedelta(0)


def test_run_until_blocked_fails_script_step_when_it_calls_dunder_import(tmp_path):
    # Deployment refuses this script; a spec parsed without those checks must still not escape.
    marker = tmp_path / "pwned"
    parser = FlowDeskParser()
    script = f"__import__('os').system('touch {marker}')"
    parser.add_bpmn_str(bpmn(SCRIPT_BODY.format(script=script)), filename="demo.bpmn")
    workflow = runtime.new_workflow(
        parser.get_spec("demo"), parser.get_subprocess_specs("demo"), {}
    )

    with pytest.raises(ProcessFailed) as caught:
        runtime.run_until_blocked(workflow)

    assert caught.value.extra["bpmn_id"] == "calc"
    assert runtime.status_of(workflow) == runtime.InstanceStatus.ERROR
    assert not marker.exists()


def test_parse_process_refuses_script_when_it_imports(tmp_path):
    marker = tmp_path / "pwned"

    with pytest.raises(InvalidProcess) as caught:
        parse(SCRIPT_BODY.format(script=f"import os\nos.system('touch {marker}')"))

    problem = caught.value.extra["problems"][0]
    assert problem["id"] == "calc"
    assert "import" in problem["message"]
    assert not marker.exists()


@pytest.mark.parametrize("name", ["open", "vars", "locals"])
def test_parse_process_refuses_script_when_it_reads_a_name_the_sandbox_lacks(tmp_path, name):
    # these compile, and only failed on a requester's instance with a NameError
    marker = tmp_path / "pwned"
    script = f"{name}('{marker}', 'w')" if name == "open" else f"x = {name}()"

    with pytest.raises(InvalidProcess) as caught:
        parse(SCRIPT_BODY.format(script=script))

    problem = caught.value.extra["problems"][0]
    assert problem["id"] == "calc"
    assert problem["message"] == f"'{name}' is not available in the script sandbox"
    assert not marker.exists()
