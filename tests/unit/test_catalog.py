"""The bundled catalog: every offering bundle passes the publish checks, in both languages."""

import json

import pytest

from engine.bpmn.specs import CATALOG_FIELDS, describe_steps
from engine.catalog import checks
from engine.catalog.texts import full_name
from tests.conftest import PROCESSES_DIR
from workers.operations import OPERATION_NAMES

OFFERING_KEYS = sorted(path.name for path in PROCESSES_DIR.iterdir() if path.is_dir())
LANGUAGES = ("en", "zh")


def test_catalog_bundles_both_offerings():
    assert OFFERING_KEYS == ["new_hire_onboarding", "store_opening_it_readiness"]


def test_every_bundle_parses_and_validates(bundles):
    # ProcessLibrary.load runs every folder through parse_bundle, which raises on any problem.
    assert bundles.keys() == OFFERING_KEYS
    assert all(bundles.get(key).process.spec.name == key for key in OFFERING_KEYS)


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_bundle_passes_every_publish_check(bundles, key):
    assert checks.problems(bundles.get(key), operations=OPERATION_NAMES) == []


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_process_has_bilingual_catalog_entry(library, key):
    meta = library[key].meta

    missing = [name for name in CATALOG_FIELDS if not meta.get(name)]
    assert missing == []


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_operation_a_process_names_exists(library, key):
    operation_names = library[key].operation_names()

    assert operation_names
    assert sorted(operation_names - OPERATION_NAMES) == []


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_form_of_a_bundle_is_its_own_and_used(bundles, key):
    bundle = bundles.get(key)

    assert all(k.startswith(f"{key}.") for k in bundle.forms)
    assert sorted(set(bundle.forms) - bundle.process.form_keys()) == []


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_step_and_lane_is_named_in_chinese(library, key):
    parsed = library[key]
    steps = describe_steps(parsed.spec, parsed.subprocess_specs, parsed.meta)
    unnamed = [s.bpmn_id for s in steps if s.name != s.bpmn_id and not s.name_zh]

    assert unnamed == []
    assert all(names["zh"] != names["en"] for names in parsed.meta["lanes"].values())


@pytest.mark.parametrize("key", OFFERING_KEYS)
def test_every_human_step_has_instructions_in_both_languages(library, key):
    parsed = library[key]
    steps = [
        s for s in describe_steps(parsed.spec, parsed.subprocess_specs, parsed.meta) if s.is_human
    ]

    assert steps
    assert [s.bpmn_id for s in steps if set(s.instructions) != set(LANGUAGES)] == []


def test_every_form_has_title_in_both_languages(forms):
    untitled = [
        (key, language)
        for key, form in forms.items()
        for language in LANGUAGES
        if not form.title.get(language)
    ]

    assert untitled == []


def test_every_field_has_label_in_both_languages(forms):
    unlabelled = [
        (key, name, language)
        for key, form in forms.items()
        for name in form.schema["properties"]
        for language in LANGUAGES
        if not form.ui.get("fields", {}).get(name, {}).get("label", {}).get(language)
    ]

    assert unlabelled == []


def test_every_choice_has_label_in_both_languages(forms):
    unlabelled = [
        (key, name, value, language)
        for key, form in forms.items()
        for name, prop in form.schema["properties"].items()
        for value in prop.get("enum", [])
        for language in LANGUAGES
        if not form.ui["fields"][name].get("options", {}).get(value, {}).get(language)
    ]

    assert unlabelled == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_form_orders_exactly_its_fields(forms, language):
    misordered = [
        key
        for key, form in forms.items()
        if sorted(_order(form.ui, language)) != sorted(form.schema["properties"])
    ]

    assert misordered == []


def _order(ui: dict, language: str) -> list:
    order = ui.get("order", [])
    return order.get(language, []) if isinstance(order, dict) else order


def test_categories_are_data_in_both_languages():
    categories = json.loads((PROCESSES_DIR / "categories.json").read_text())["categories"]

    assert [c for c in categories if not all(c["name"].get(lang) for lang in LANGUAGES)] == []
    assert len({c["key"] for c in categories}) == len(categories)


def test_names_read_in_the_readers_order():
    assert full_name("伟", "张", "zh") == "张伟"
    assert full_name("Wei", "Zhang", "zh") == "Zhang Wei"
    assert full_name("Wei", "Zhang", "en") == "Wei Zhang"
    assert full_name("", "Zhang", "en") == "Zhang"
