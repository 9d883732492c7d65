"""Import directions and the thin front ends of STYLE.md section 1, read from the source with `ast`.

wsgi -> api (composition root: api/app.py, config.py, cli.py) -> everything;
api/v1 (JSON) and admin (web) -> engine domains, forms; workers -> engine;
engine domains -> lower domains, the BPMN core, forms; the BPMN core (engine/bpmn) -> engine.errors;
forms -> engine.errors. Front ends run no SQL and take no lock.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "forms", "workers", "api", "admin")
PROJECT = (*PACKAGES, "wsgi")
CORE_MODULES = (
    "engine.bpmn.runtime",
    "engine.bpmn.specs",
    "engine.bpmn.serializer",
    "engine.bpmn.scripting",
    "engine.bpmn.loops",
    "engine.bpmn.durations",
    "engine.bpmn.cron",
)
COMPOSITION_ROOT = ("api/app.py", "api/cli.py", "api/config.py", "api/__init__.py")
# A domain may import the domains ranked below it, never one of its rank or above.
DOMAIN_RANKS = {
    "engine.errors": 0,
    "engine.clock": 0,
    "engine.db": 0,
    "engine.bpmn": 1,
    "engine.audit": 1,
    "engine.identity": 2,
    "engine.directory": 2,
    "engine.lookups": 3,
    "engine.catalog": 4,
    "engine.instances": 5,
    "engine.automation": 6,
}


@dataclass(frozen=True)
class Import:
    source: str  # path relative to the repository root, e.g. "engine/runtime.py"
    name: str  # dotted name, with the imported names: "engine.errors.Conflict"
    line: int
    relative: bool
    in_function: bool

    @property
    def is_project(self) -> bool:
        return self.relative or self.name.split(".")[0] in PROJECT

    def of(self, *prefixes: str) -> bool:
        return any(self.name == p or self.name.startswith(p + ".") for p in prefixes)

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.name}"


def python_files() -> list[Path]:
    files = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    return [*files, ROOT / "wsgi.py"]


def imports_in(path: Path, root: Path = ROOT) -> list[Import]:
    source = path.relative_to(root).as_posix()
    found = []

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(source, alias.name, child.lineno, False, in_function))
            elif isinstance(child, ast.ImportFrom):
                module = ("." * child.level) + (child.module or "")
                for alias in child.names:
                    name = f"{module}.{alias.name}" if child.module else module + alias.name
                    found.append(Import(source, name, child.lineno, child.level > 0, in_function))
            visit(child, nested)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=source), False)
    return found


ALL_IMPORTS = [imp for path in python_files() for imp in imports_in(path)]


def violations(predicate) -> list[str]:
    return [str(imp) for imp in ALL_IMPORTS if predicate(imp)]


def in_package(imp: Import, package: str) -> bool:
    return imp.source.startswith(f"{package}/")


def test_imports_in_finds_every_kind_of_import(tmp_path):
    (tmp_path / "engine").mkdir()
    path = tmp_path / "engine" / "bad.py"
    path.write_text(
        "import flask\n"
        "from engine import runtime, serializer\n"
        "from . import errors\n"
        "from ..api.app import create_app\n"
        "class Step:\n"
        "    def run(self):\n"
        "        from workers.jobs import run_job\n"
    )

    found = [(i.name, i.line, i.relative, i.in_function) for i in imports_in(path, tmp_path)]

    assert found == [
        ("flask", 1, False, False),
        ("engine.runtime", 2, False, False),
        ("engine.serializer", 2, False, False),
        (".errors", 3, True, False),
        ("..api.app.create_app", 4, True, False),
        ("workers.jobs.run_job", 7, False, True),
    ]


def domain_of(name: str) -> str | None:
    """engine.instances.store -> engine.instances; engine.errors -> engine.errors."""
    parts = name.split(".")
    for end in (2, 1):
        candidate = ".".join(parts[:end])
        if candidate in DOMAIN_RANKS:
            return candidate
    return None


def source_module(imp: Import) -> str:
    return imp.source.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def test_layering_sees_every_package():
    sources = {imp.source.split("/")[0] for imp in ALL_IMPORTS}

    assert {"engine", "forms", "workers", "api", "admin", "wsgi.py"} <= sources
    assert len(ALL_IMPORTS) > 200


def test_every_engine_module_belongs_to_a_ranked_domain():
    modules = {source_module(imp) for imp in ALL_IMPORTS if in_package(imp, "engine")}

    assert sorted(m for m in modules if domain_of(m) is None) == []


def test_the_bpmn_core_imports_nothing_of_ours_but_errors():
    assert (
        violations(
            lambda imp: (
                in_package(imp, "engine/bpmn")
                and imp.is_project
                and not imp.of("engine.errors", "engine.bpmn")
            )
        )
        == []
    )


def test_domains_import_only_lower_domains_the_core_and_forms():
    def wrong(imp: Import) -> bool:
        if not in_package(imp, "engine") or not imp.is_project or imp.of("forms"):
            return False
        mine, theirs = domain_of(source_module(imp)), domain_of(imp.name)
        if theirs is None:
            return True  # api, admin, workers, wsgi
        return theirs != mine and DOMAIN_RANKS[theirs] >= DOMAIN_RANKS[mine]

    assert violations(wrong) == []


def test_no_domain_imports_flask():
    def is_flask(imp: Import) -> bool:
        top = imp.name.split(".")[0]
        if top == "flask_sqlalchemy" and imp.source == "engine/db.py":
            return False  # the one shared `db`, as STYLE.md allows
        if imp.of("werkzeug.security") and imp.source.startswith("engine/identity/"):
            return False  # password hashes: a pure function library, compatible with stored rows
        return top.startswith("flask") or top == "werkzeug"

    assert violations(lambda imp: in_package(imp, "engine") and is_flask(imp)) == []


def test_spiffworkflow_is_imported_only_in_the_bpmn_core():
    assert (
        violations(lambda imp: imp.of("SpiffWorkflow") and not in_package(imp, "engine/bpmn")) == []
    )


def test_forms_imports_only_engine_errors():
    assert (
        violations(
            lambda imp: (
                in_package(imp, "forms") and imp.is_project and not imp.of("engine.errors", "forms")
            )
        )
        == []
    )


def test_workers_import_only_engine_and_workers():
    def allowed(imp: Import) -> bool:
        if imp.source == "workers/__main__.py" and imp.of("api.app"):
            return True  # the worker process builds the app
        return imp.of("engine", "workers")

    assert (
        violations(lambda imp: in_package(imp, "workers") and imp.is_project and not allowed(imp))
        == []
    )


def test_admin_imports_only_engine_and_forms():
    assert (
        violations(
            lambda imp: (
                in_package(imp, "admin")
                and imp.is_project
                and not imp.of("engine", "forms", "admin")
            )
        )
        == []
    )


def test_the_json_api_imports_only_engine_and_forms():
    assert (
        violations(
            lambda imp: (
                in_package(imp, "api/v1")
                and imp.is_project
                and not imp.of("api.v1", "engine", "forms")
            )
        )
        == []
    )


def test_only_the_composition_root_imports_the_front_ends_and_workers():
    def wrong(imp: Import) -> bool:
        if imp.source in COMPOSITION_ROOT or imp.source in ("wsgi.py", "workers/__main__.py"):
            return False
        if imp.of("admin") and not in_package(imp, "admin"):
            return True
        return imp.of("workers") and not in_package(imp, "workers")

    assert violations(wrong) == []


def test_only_workers_main_and_wsgi_import_the_app_factory():
    assert (
        violations(
            lambda imp: imp.of("api.app") and imp.source not in ("workers/__main__.py", "wsgi.py")
        )
        == []
    )


def test_wsgi_imports_only_api_app():
    assert violations(lambda imp: imp.source == "wsgi.py" and not imp.of("api.app")) == []


def test_project_imports_are_absolute_and_at_module_level():
    # A local import that dodges a cycle is a layering bug (STYLE.md section 1).
    assert violations(lambda imp: imp.is_project and (imp.relative or imp.in_function)) == []


def test_engine_init_stays_empty():
    assert (ROOT / "engine" / "__init__.py").read_text(encoding="utf-8").strip() == ""


SQL_OR_LOCKS = re.compile(r"\bselect\(|db\.session|begin_write|\.execute\(|with_for_update")


def front_end_files() -> list[Path]:
    return sorted((ROOT / "api").rglob("*.py")) + sorted((ROOT / "admin").rglob("*.py"))


def test_front_ends_run_no_sql_and_take_no_lock():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in front_end_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL_OR_LOCKS.search(line)
    ]

    assert found == []


def test_front_ends_never_import_sqlalchemy_or_the_session():
    assert (
        violations(
            lambda imp: (
                (in_package(imp, "api") or in_package(imp, "admin"))
                and (
                    imp.name.split(".")[0] == "sqlalchemy"
                    or (imp.of("engine.db.db") and imp.source not in COMPOSITION_ROOT)
                )
            )
        )
        == []
    )


def test_the_sql_check_sees_what_it_looks_for():
    assert SQL_OR_LOCKS.search("rows = db.session.scalars(select(Job))")
    assert SQL_OR_LOCKS.search("begin_write()")
    assert not SQL_OR_LOCKS.search("reads.page(query, 1, 20)")


def project_module(name: str) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ROOT.joinpath(*parts[:end])
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts[:end])
    return None


def module_imports(module: str) -> set[str]:
    path = ROOT.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()
    for imp in imports_in(path):
        target = project_module(imp.name) if imp.is_project else imp.name.split(".")[0]
        if target:
            found.add(target)
    return found


@pytest.mark.parametrize("module", CORE_MODULES)
def test_the_bpmn_core_never_pulls_in_flask_or_the_database(module):
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(m for m in module_imports(current) if m.split(".")[0] in PROJECT)
    reached = set().union(*(module_imports(m) for m in seen))

    assert "engine.db" not in seen
    assert sorted(m for m in reached if m.startswith("flask") or m == "sqlalchemy") == []
