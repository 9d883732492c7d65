"""Every UI string has a Chinese translation, and the committed .mo files match their .po."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from admin import catalog

ADMIN = Path(__file__).resolve().parents[2] / "admin"
TRANSLATIONS = ADMIN / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _catalog(lang: str, suffix: str):
    path = TRANSLATIONS / lang / "LC_MESSAGES" / f"messages.{suffix}"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang) if suffix == "po" else read_mo(handle)


def _source_messages() -> set:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ADMIN), method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_ui_string_is_translated_to_chinese():
    zh = _catalog("zh", "po")
    translated = {
        m.id for m in zh if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    missing = sorted(map(str, _source_messages() - translated))
    assert not missing, f"untranslated (run pybabel extract/update): {missing}"


def test_translations_keep_their_placeholders():
    for message in _catalog("zh", "po"):
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(target)), source


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compiled_catalogs_match_their_sources(lang):
    po = {_key(m.id): _key(m.string) for m in _catalog(lang, "po") if m.id and any(m.string)}
    mo = {
        _key(m.id): _key(m.string)
        for m in _catalog(lang, "mo")
        if m.id and _key(m.string) != _key(m.id)  # untranslated plurals compile to the source
    }
    assert po == mo, "run: pybabel compile -d admin/translations"


def _key(value):
    return value if isinstance(value, str) else tuple(value)


def test_durations_read_naturally(app):
    cases = {
        "P5D": ("about 5 days", "约 5 天"),
        "P1D": ("about 1 day", "约 1 天"),
        "P14D": ("about 2 weeks", "约 2 周"),
        "PT4H": ("about 4 hours", "约 4 小时"),
        "P1DT12H": ("about 2 days", "约 2 天"),
        "P2M": ("about 2 months", "约 2 个月"),
    }
    for lang, index in (("en", 0), ("zh", 1)):
        with app.test_request_context(headers={"Accept-Language": lang}):
            for value, expected in cases.items():
                assert catalog.humanize_duration(value) == expected[index], (lang, value)
            assert catalog.humanize_duration("soon") == ""
