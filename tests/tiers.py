"""Run every test tier, even after one fails, and say which passed and how long each took.

python tests/tiers.py            # make test: lint, then every tier on SQLite, then the
                                 # database tiers again on a throwaway PostgreSQL
python tests/tiers.py unit api   # only these tiers (SQLite)
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("unit", "long", "api", "web", "contract", "integration", "faults", "browser")
ON_POSTGRESQL = ("api", "contract", "integration", "faults")


def _run(name: str, command: list[str], env: dict | None = None) -> tuple[str, bool, float]:
    print(f"\n=== {name}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    code = subprocess.call(command, cwd=ROOT, env={**os.environ, **(env or {})})
    return name, code == 0, time.monotonic() - started


def main(args: list[str]) -> int:
    python = sys.executable
    pytest = [python, "-m", "pytest", "-q", "--durations=5"]
    results = []
    if not args:
        results.append(_run("lint", [python, "-m", "ruff", "check", "."]))
        results.append(_run("format", [python, "-m", "ruff", "format", "--check", "."]))
    for tier in args or TIERS:
        results.append(_run(tier, [*pytest, f"tests/{tier}"]))
    if not args:
        for tier in ON_POSTGRESQL:
            env = {"FLOWDESK_TEST_DB": "postgresql"}
            results.append(_run(f"{tier} (PostgreSQL)", [*pytest, f"tests/{tier}"], env))
    print("\n=== summary")
    for name, passed, seconds in results:
        print(f"  {'passed' if passed else 'FAILED':6}  {seconds:7.1f} s  {name}")
    failed = [name for name, passed, _seconds in results if not passed]
    print(
        f"  {len(results) - len(failed)} of {len(results)} passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
