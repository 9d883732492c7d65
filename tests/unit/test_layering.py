"""Import directions from STYLE.md section 1, read from the source with `ast`.

wsgi -> api -> {admin, forms, workers.dispatch, engine}; admin -> {forms, engine};
workers -> engine; forms -> engine.errors; engine -> nothing of ours.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "forms", "workers", "api", "admin")
PROJECT = (*PACKAGES, "wsgi")
DOMAIN_MODULES = ("engine.errors", "engine.scripting", "engine.specs", "engine.serializer")


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


def test_layering_sees_every_package():
    sources = {imp.source.split("/")[0] for imp in ALL_IMPORTS}

    assert {"engine", "forms", "workers", "api", "wsgi.py"} <= sources
    assert len(ALL_IMPORTS) > 100


def test_engine_imports_nothing_outside_engine():
    assert (
        violations(
            lambda imp: in_package(imp, "engine") and imp.is_project and not imp.of("engine")
        )
        == []
    )


def test_engine_never_imports_flask():
    def is_flask(imp: Import) -> bool:
        top = imp.name.split(".")[0]
        if top == "flask_sqlalchemy" and imp.source == "engine/models.py":
            return False
        return top.startswith("flask") or top == "werkzeug"

    assert violations(lambda imp: in_package(imp, "engine") and is_flask(imp)) == []


def test_spiffworkflow_is_imported_only_under_engine():
    assert violations(lambda imp: imp.of("SpiffWorkflow") and not in_package(imp, "engine")) == []


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


def test_api_imports_only_engine_forms_dispatch_and_admin():
    assert (
        violations(
            lambda imp: (
                in_package(imp, "api")
                and imp.is_project
                and not imp.of("api", "engine", "forms", "workers.dispatch", "admin")
            )
        )
        == []
    )


def test_only_workers_main_and_wsgi_import_api_app():
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


@pytest.mark.parametrize("module", ["engine.runtime", *DOMAIN_MODULES])
def test_domain_module_never_pulls_in_flask_or_the_database(module):
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(m for m in module_imports(current) if m.split(".")[0] in PROJECT)
    reached = set().union(*(module_imports(m) for m in seen))

    assert "engine.models" not in seen
    assert sorted(m for m in reached if m.startswith("flask") or m == "sqlalchemy") == []
