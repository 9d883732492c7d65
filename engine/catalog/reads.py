"""Reading the catalog: versions, their specs, forms and steps (cached: versions never change)."""

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from sqlalchemy import func, select

from engine.bpmn import serializer
from engine.bpmn.specs import StepSpec, describe_steps
from engine.catalog.models import Category, ProcessVersion
from engine.db import db, is_row_id
from engine.errors import NotFound
from forms.camunda import from_camunda
from forms.model import Form, from_definition

_CACHE_SIZE = 256
_LOCK = Lock()
_SPECS: OrderedDict[str, tuple] = OrderedDict()  # content hash -> (spec, subprocess specs)
_FORMS: OrderedDict[str, dict[str, Form]] = OrderedDict()  # content hash -> forms by key
_STEPS: OrderedDict[str, dict[str, "Step"]] = OrderedDict()  # content hash -> steps by id


def _cached(cache: OrderedDict, key, build):
    with _LOCK:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = build()
    with _LOCK:
        cache[key] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return value


def latest(key: str) -> ProcessVersion:
    """Return the newest version of an offering.

    Raises:
        NotFound: no such offering.
    """
    version = latest_or_none(key)
    if version is None:
        raise NotFound(f"offering '{key}'")
    return version


def latest_or_none(key: str) -> ProcessVersion | None:
    return db.session.scalar(
        select(ProcessVersion)
        .filter_by(process_key=key)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )


def latest_all() -> list[ProcessVersion]:
    """Return the newest version of every offering."""
    newest = (
        select(ProcessVersion.process_key, func.max(ProcessVersion.version).label("v"))
        .group_by(ProcessVersion.process_key)
        .subquery()
    )
    query = (
        select(ProcessVersion)
        .join(
            newest,
            (ProcessVersion.process_key == newest.c.process_key)
            & (ProcessVersion.version == newest.c.v),
        )
        .order_by(ProcessVersion.process_key)
    )
    return list(db.session.scalars(query))


def version(key: str, number: int) -> ProcessVersion:
    """Raises NotFound for an unknown offering or version number."""
    if not is_row_id(number):
        raise NotFound(f"version {number} of '{key}'")
    found = db.session.scalar(select(ProcessVersion).filter_by(process_key=key, version=number))
    if found is None:
        raise NotFound(f"version {number} of '{key}'")
    return found


def versions() -> list[ProcessVersion]:
    """Every deployed version of every offering, newest first within each."""
    return list(
        db.session.scalars(
            select(ProcessVersion).order_by(
                ProcessVersion.process_key, ProcessVersion.version.desc()
            )
        )
    )


def specs_for(version: ProcessVersion) -> tuple:
    """Return (spec, subprocess_specs) of a version, parsed from the database once per process."""
    return _cached(_SPECS, version.content_hash, lambda: serializer.load_specs(version.spec_json))


def remember_specs(version: ProcessVersion, spec, subprocess_specs: dict) -> None:
    """Keep the specs just parsed for a new version (no need to read them back)."""
    _cached(_SPECS, version.content_hash, lambda: (spec, subprocess_specs))


def forms_of(version: ProcessVersion) -> dict[str, Form]:
    """The forms of a version (its bundle's and its embedded Camunda forms), by key."""

    def build() -> dict[str, Form]:
        forms = {key: from_definition(d, source=key) for key, d in (version.forms or {}).items()}
        for bpmn_id, fields in version.meta.get("embedded_forms", {}).items():
            forms[f"embedded:{bpmn_id}"] = from_camunda(f"embedded:{bpmn_id}", fields)
        return forms

    return _cached(_FORMS, version.content_hash, build)


def form_of(version: ProcessVersion, form_key: str | None) -> Form | None:
    """The form of a start event or step as its version has it, or None."""
    return forms_of(version).get(form_key) if form_key else None


@dataclass(frozen=True)
class Step:
    """A BPMN element of a version with what people read about it, in both languages."""

    spec: StepSpec
    title: dict  # its form's title, {"en", "zh"} or {}
    lane_names: dict  # its lane's names, {"en", "zh"} or {}

    @property
    def bpmn_id(self) -> str:
        return self.spec.bpmn_id

    def name(self, lang: str) -> str:
        """Its name in a language: the `name_zh` property, its form's title, the BPMN name."""
        if lang == "zh" and self.spec.name_zh:
            return self.spec.name_zh
        title = self.title.get(lang) or (self.title.get("en") if lang == "en" else None)
        return title or self.spec.name

    def lane_name(self, lang: str) -> str | None:
        return self.lane_names.get(lang) or self.spec.lane


def steps(version: ProcessVersion) -> dict[str, Step]:
    """Every element of a version by BPMN id, in process order."""

    def build() -> dict[str, Step]:
        spec, subprocess_specs = specs_for(version)
        forms = forms_of(version)
        lanes = version.meta.get("lanes", {})
        found = {}
        for item in describe_steps(spec, subprocess_specs, version.meta):
            form = forms.get(item.form_key or "")
            found[item.bpmn_id] = Step(
                item, dict(form.title) if form else {}, lanes.get(item.lane or "", {})
            )
        return found

    return _cached(_STEPS, version.content_hash, build)


def human_steps(version: ProcessVersion) -> list[Step]:
    """The human steps of an offering in process order."""
    return [s for s in steps(version).values() if s.spec.is_human]


def offering(version: ProcessVersion) -> dict:
    """The catalog entry of a version, every text in both languages."""
    meta = version.meta
    return {
        "key": version.process_key,
        "version": version.version,
        "name": {
            "en": meta.get("name_en") or version.process_key,
            "zh": meta.get("name_zh") or meta.get("name_en") or version.process_key,
        },
        "summary": {"en": meta.get("summary_en", ""), "zh": meta.get("summary_zh", "")},
        "description": {"en": meta.get("description_en", ""), "zh": meta.get("description_zh", "")},
        "category": meta.get("category") or "other",
        "department": meta.get("department") or None,
        "expected_duration": meta.get("expected_duration"),
        "keywords": meta.get("keywords", []),
        "start_form": meta.get("start_form"),
    }


def offerings_of_department(department: str) -> list[str]:
    """The offerings whose catalog metadata names this department (as their newest version says)."""
    return [v.process_key for v in latest_all() if v.meta.get("department") == department]


def offering_names(all_versions: list[ProcessVersion] | None = None) -> dict[str, dict]:
    """Offering key -> its names {"en", "zh"}."""
    return {v.process_key: offering(v)["name"] for v in (all_versions or latest_all())}


def categories() -> list[Category]:
    """The catalog's categories in page order."""
    return list(db.session.scalars(select(Category).order_by(Category.position, Category.key)))
