"""Unit-tier fixtures: the bundled processes and forms, loaded once, and fake operations."""

import pytest

from engine.specs import ProcessLibrary
from forms.registry import FormRegistry
from tests.conftest import PROCESSES_DIR
from tests.unit.support import FakeOperations


@pytest.fixture(scope="session")
def library() -> ProcessLibrary:
    return ProcessLibrary.load(PROCESSES_DIR)


@pytest.fixture(scope="session")
def forms() -> FormRegistry:
    return FormRegistry.load()


@pytest.fixture
def fake_operations() -> FakeOperations:
    return FakeOperations()
