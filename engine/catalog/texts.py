"""The texts of an offering rendered for people: request titles and step instructions.

Designers write them as Jinja templates in each language (`title_template`, `title_template_zh`,
a step's instructions and its `instructions_zh`). They are rendered in a sandbox with the request's
data, choices shown by their labels in the reader's language ("Finance", not `finance`).
"""

import logging
import re

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from engine.catalog.models import ProcessVersion
from engine.catalog.reads import Step, forms_of, offering
from forms.fields import labelled

log = logging.getLogger(__name__)
LANGS = ("en", "zh")
_TEXTS = SandboxedEnvironment(autoescape=False)  # plain text; pages escape when they render it
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def labelled_data(version: ProcessVersion, data: dict, lang: str) -> dict:
    """The request's data with every choice of the version's forms shown by its label."""
    shown = dict(data)
    for form in forms_of(version).values():
        for key, value in labelled(data, form, lang).items():
            if value is not data[key]:
                shown[key] = value
    return shown


def full_name(given, family, lang: str) -> str:
    """A person's name in the reader's order: 张伟 / Zhang Wei in Chinese, Wei Zhang in English."""
    given, family = str(given or "").strip(), str(family or "").strip()
    if lang != "zh":
        return " ".join(p for p in (given, family) if p)
    joiner = "" if _CJK.search(given + family) else " "
    return joiner.join(p for p in (family, given) if p)


def render(template: str, version: ProcessVersion, data: dict, lang: str) -> str | None:
    """A designer's template rendered with the labelled data; the raw text if it fails.

    Templates may call `full_name(given, family)`, which orders a name for the reader.
    """
    context = {
        **labelled_data(version, data, lang),
        "full_name": lambda given, family: full_name(given, family, lang),
    }
    try:
        return _TEXTS.from_string(template).render(**context)
    except TemplateError as exc:  # a designer's template error must not hide the request
        log.warning("template of %s v%s failed: %s", version.process_key, version.version, exc)
        return None


def titles(version: ProcessVersion, data: dict) -> dict[str, str]:
    """A new request's title in each language, from the offering's title templates."""
    meta, names = version.meta, offering(version)["name"]
    out = {}
    for lang in LANGS:
        template = meta.get("title_template_zh" if lang == "zh" else "title_template")
        template = template or meta.get("title_template")
        text = render(template, version, data, lang) if template else None
        out[lang] = " ".join((text or names[lang]).split())[:200]
    return out


def instructions(step: Step, version: ProcessVersion, data: dict, lang: str) -> str | None:
    """A step's instructions in the reader's language (English when there are none in theirs)."""
    template = step.spec.instructions.get(lang) or step.spec.instructions.get("en")
    if not template:
        return None
    return render(template, version, data, lang) or template
