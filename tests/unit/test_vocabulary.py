"""Domain words mean one thing: a failed automated step is a "failed step", never an "incident"
(the word is kept for ITIL's Incident record). Read from the code, pages, messages and README."""

import re

from tests.conftest import ROOT

INCIDENT = re.compile(r"incident", re.IGNORECASE)
SOURCES = ("engine", "api", "admin", "workers", "forms", "processes")
SUFFIXES = {".py", ".html", ".js", ".css", ".po", ".pot", ".json", ".bpmn"}


def test_nothing_calls_a_failed_automated_step_an_incident():
    found = []
    paths = [p for d in SOURCES for p in (ROOT / d).rglob("*") if p.suffix in SUFFIXES]
    for path in [*paths, ROOT / "README.md"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if INCIDENT.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")

    assert found == []
