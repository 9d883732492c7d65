"""The bundled catalog: every process parses, and every form and operation it names exists."""

import pytest

from engine.specs import CATALOG_FIELDS
from tests.conftest import PROCESSES_DIR
from workers.operations import OPERATIONS

OFFERING_KEYS = sorted(path.name for path in PROCESSES_DIR.iterdir() if path.is_dir())
LANGUAGES = ("en", "zh")


def test_catalog_bundles_both_offerings():
    assert OFFERING_KEYS == ["new_hire_onboarding", "store_opening_it_readiness"]


def test_every_bundled_process_parses_and_validates(library):
    # ProcessLibrary.load runs every folder through parse_process, which raises on any problem.
    assert library.keys() == OFFERING_KEYS
    assert all(library.get(key).spec.name == key for key in OFFERING_KEYS)


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_process_has_bilingual_catalog_entry(library, key):
    meta = library.get(key).meta

    missing = [name for name in CATALOG_FIELDS if not meta.get(name)]
    assert missing == []


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_form_a_process_names_exists(library, forms, key):
    form_keys = library.get(key).form_keys()

    assert form_keys
    assert sorted(k for k in form_keys if forms.get(k) is None) == []
    forms.check_process(form_keys)


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_operation_a_process_names_exists(library, key):
    operation_names = library.get(key).operation_names()

    assert operation_names
    assert sorted(operation_names - set(OPERATIONS)) == []


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_form_belongs_to_its_offering(library, key):
    assert all(k.startswith(f"{key}.") for k in library.get(key).form_keys())


def test_every_form_is_used_by_a_process(library, forms):
    used = set().union(*(library.get(key).form_keys() for key in OFFERING_KEYS))

    assert sorted(set(forms.forms) - used) == []


def test_every_form_has_title_in_both_languages(forms):
    untitled = [
        (key, language)
        for key, form in forms.forms.items()
        for language in LANGUAGES
        if not form.title.get(language)
    ]

    assert untitled == []


def test_every_field_has_label_in_both_languages(forms):
    unlabelled = [
        (key, name, language)
        for key, form in forms.forms.items()
        for name in form.schema["properties"]
        for language in LANGUAGES
        if not form.ui.get("fields", {}).get(name, {}).get("label", {}).get(language)
    ]

    assert unlabelled == []


def test_every_choice_has_label_in_both_languages(forms):
    unlabelled = [
        (key, name, value, language)
        for key, form in forms.forms.items()
        for name, prop in form.schema["properties"].items()
        for value in prop.get("enum", [])
        for language in LANGUAGES
        if not form.ui["fields"][name].get("options", {}).get(value, {}).get(language)
    ]

    assert unlabelled == []


def test_every_form_orders_exactly_its_fields(forms):
    misordered = [
        key
        for key, form in forms.forms.items()
        if sorted(form.ui.get("order", [])) != sorted(form.schema["properties"])
    ]

    assert misordered == []
