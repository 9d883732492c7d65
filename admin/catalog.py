"""The catalog as people see it: business scenarios, search, and "about 5 days" durations."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from engine.bpmn.durations import parts
from engine.catalog import reads as catalog

OTHER = (_l("Other services"), "grid")


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
    entry = catalog.offering(version)
    texts = [entry[f][code] for f in ("name", "summary", "description") for code in ("en", "zh")]
    return Offering(
        key=entry["key"],
        name=entry["name"][lang],
        summary=entry["summary"][lang] or entry["summary"]["en"],
        description=entry["description"][lang] or entry["description"]["en"],
        category=entry["category"],
        duration=humanize_duration(entry["expected_duration"]),
        haystack=" ".join([*texts, *entry["keywords"], entry["key"]]).lower(),
    )


def search(offerings: list[Offering], query: str) -> list[Offering]:
    """Keep offerings whose names, descriptions or keywords contain every word of the query."""
    words = query.lower().split()
    return [o for o in offerings if all(word in o.haystack for word in words)]


def sections(offerings: list[Offering], lang: str) -> list[dict]:
    """Group offerings by business scenario, in the catalog's order, names sorted within."""
    groups: dict[str, list[Offering]] = {}
    for item in offerings:
        groups.setdefault(item.category, []).append(item)
    known = {c.key: c for c in catalog.categories()}
    order = [key for key in known if key in groups]
    order += sorted(key for key in groups if key not in known)
    result = []
    for key in order:
        category = known.get(key)
        if category is not None:
            label, icon = category.name(lang), category.icon
        elif key == "other":
            label, icon = str(OTHER[0]), OTHER[1]
        else:
            label, icon = key.replace("_", " ").capitalize(), OTHER[1]
        items = sorted(groups[key], key=lambda o: o.name)
        result.append({"key": key, "label": label, "icon": icon, "items": items})
    return result


def humanize_duration(value: str | None) -> str:
    """ISO 8601 duration -> "about 5 days" / "约 5 天" in the current language."""
    found = parts(value)
    if not found:
        return ""
    found = {k: int(v) for k, v in found.items()}
    days = found.get("days", 0) + 7 * found.get("weeks", 0)
    if found.get("years"):
        return ngettext("about %(num)d year", "about %(num)d years", found["years"])
    if found.get("months"):
        return ngettext("about %(num)d month", "about %(num)d months", found["months"])
    if days >= 14 and days % 7 == 0:
        return ngettext("about %(num)d week", "about %(num)d weeks", days // 7)
    if days:
        days += 1 if found.get("hours", 0) >= 12 else 0
        return ngettext("about %(num)d day", "about %(num)d days", days)
    if found.get("hours"):
        return ngettext("about %(num)d hour", "about %(num)d hours", found["hours"])
    if found.get("minutes"):
        return ngettext("about %(num)d minute", "about %(num)d minutes", found["minutes"])
    return ""
