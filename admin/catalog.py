"""The catalog as people see it: business scenarios, search, and "about 5 days" durations."""

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

CATEGORIES = {  # key -> (label, icon); order is the order of sections on the page
    "onboarding": (_l("Onboarding & offboarding"), "person"),
    "store_operations": (_l("Store operations"), "store"),
    "it_access": (_l("IT access & accounts"), "key"),
    "it_support": (_l("IT support"), "wrench"),
    "hr": (_l("HR services"), "people"),
    "finance": (_l("Finance"), "coin"),
    "sales_support": (_l("Sales support"), "chart"),
    "facilities": (_l("Facilities"), "building"),
}
OTHER = (_l("Other services"), "grid")
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:\d+(?:\.\d+)?S)?)?$"
)


@dataclass(frozen=True)
class Offering:
    """One catalog entry, already in the reader's language."""

    key: str
    name: str
    summary: str
    description: str
    category: str
    duration: str
    haystack: str  # every searchable text, both languages, lower case


def offering(version, lang: str) -> Offering:
    meta = version.meta
    other = "en" if lang == "zh" else "zh"
    texts = [
        meta.get(f"{field}_{code}", "")
        for field in ("name", "summary", "description")
        for code in (lang, other)
    ]
    return Offering(
        key=version.process_key,
        name=meta.get(f"name_{lang}") or meta.get("name_en") or version.process_key,
        summary=meta.get(f"summary_{lang}") or meta.get("summary_en", ""),
        description=meta.get(f"description_{lang}") or meta.get("description_en", ""),
        category=meta.get("category") or "other",
        duration=humanize_duration(meta.get("expected_duration")),
        haystack=" ".join([*texts, *meta.get("keywords", []), version.process_key]).lower(),
    )


def search(offerings: list[Offering], query: str) -> list[Offering]:
    """Keep offerings whose names, descriptions or keywords contain every word of the query."""
    words = query.lower().split()
    return [o for o in offerings if all(word in o.haystack for word in words)]


def sections(offerings: list[Offering]) -> list[dict]:
    """Group offerings by business scenario, known scenarios first, names sorted within."""
    groups: dict[str, list[Offering]] = {}
    for item in offerings:
        groups.setdefault(item.category, []).append(item)
    order = [key for key in CATEGORIES if key in groups] + sorted(
        key for key in groups if key not in CATEGORIES
    )
    result = []
    for key in order:
        label, icon = CATEGORIES.get(key, OTHER)
        if key not in CATEGORIES and key != "other":
            label = key.replace("_", " ").capitalize()
        result.append(
            {
                "key": key,
                "label": label,
                "icon": icon,
                "items": sorted(groups[key], key=lambda o: o.name),
            }  # fmt: skip
        )
    return result


def humanize_duration(value: str | None) -> str:
    """ISO 8601 duration -> "about 5 days" / "约 5 天" in the current language."""
    match = _DURATION.match(value or "")
    if not value or not match or value in ("P", "PT"):
        return ""
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    days = parts.get("days", 0) + 7 * parts.get("weeks", 0)
    if parts.get("years"):
        return ngettext("about %(num)d year", "about %(num)d years", parts["years"])
    if parts.get("months"):
        return ngettext("about %(num)d month", "about %(num)d months", parts["months"])
    if days >= 14 and days % 7 == 0:
        return ngettext("about %(num)d week", "about %(num)d weeks", days // 7)
    if days:
        days += 1 if parts.get("hours", 0) >= 12 else 0
        return ngettext("about %(num)d day", "about %(num)d days", days)
    if parts.get("hours"):
        return ngettext("about %(num)d hour", "about %(num)d hours", parts["hours"])
    if parts.get("minutes"):
        return ngettext("about %(num)d minute", "about %(num)d minutes", parts["minutes"])
    return ""
