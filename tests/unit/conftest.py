"""Unit-tier fixtures: the bundled offerings (processes and forms), loaded once, fake operations."""

import pytest

from engine.bpmn.specs import ParsedProcess
from engine.catalog.bundles import ProcessLibrary
from forms.model import Form, from_definition
from tests.conftest import PROCESSES_DIR
from tests.unit.support import FakeOperations


@pytest.fixture(scope="session")
def bundles() -> ProcessLibrary:
    return ProcessLibrary.load(PROCESSES_DIR)


@pytest.fixture(scope="session")
def library(bundles) -> dict[str, ParsedProcess]:
    """The parsed process of every bundled offering, by key."""
    return {key: bundles.get(key).process for key in bundles.keys()}


@pytest.fixture(scope="session")
def forms(bundles) -> dict[str, Form]:
    """Every form of every bundled offering, by form key."""
    return {
        key: from_definition(definition, source=key)
        for name in bundles.keys()
        for key, definition in bundles.get(name).forms.items()
    }


@pytest.fixture
def fake_operations() -> FakeOperations:
    return FakeOperations()
