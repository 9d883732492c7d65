"""The texts of an offering rendered for people: request titles and step instructions.

Designers write them as Jinja templates in each language (`title_template`, `title_template_zh`,
a step's instructions and its `instructions_zh`). They are rendered in a sandbox with the request's
data, choices shown by their labels in the reader's language ("Finance", not `finance`). Each
render has a CPU budget, a memory cap and an output cap, and big numbers are refused, so a template
cannot hold a page or a start; a template that fails shows as written. Deployment refuses a
template that does not compile or is too long.
"""

import logging
import re

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from engine.bpmn.limits import OutOfTime, cpu_limited, memory_capped
from engine.catalog.models import ProcessVersion
from engine.catalog.reads import Step, forms_of, offering
from forms.fields import labelled

log = logging.getLogger(__name__)
LANGS = ("en", "zh")
MAX_TEMPLATE_CHARS = 2000  # what a designer may write
MAX_TEXT_CHARS = 4000  # what a render may produce
MAX_NUMBER_BITS = 10_000
TEMPLATE_CPU_SECONDS = 0.25
_RENDER_ERRORS = (TemplateError, ArithmeticError, AttributeError, LookupError, TypeError,
                  ValueError, MemoryError, RecursionError, OutOfTime)  # fmt: skip
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with `**` and `*` refused when they would build something huge."""

    intercepted_binops = frozenset(["**", "*"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" and _ints(left, right) and right > 0 and abs(left) > 1:
            _bound(right * abs(left).bit_length() > MAX_NUMBER_BITS)
        if operator == "*":
            if _ints(left, right):
                _bound(abs(left).bit_length() + abs(right).bit_length() > MAX_NUMBER_BITS)
            elif isinstance(right, int) and hasattr(left, "__len__"):
                _bound(len(left) * right > MAX_TEXT_CHARS)
            elif isinstance(left, int) and hasattr(right, "__len__"):
                _bound(len(right) * left > MAX_TEXT_CHARS)
        return super().call_binop(context, operator, left, right)


def _ints(*values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _bound(too_big: bool) -> None:
    if too_big:
        raise SecurityError("the template builds something too large")


_TEXTS = _Sandbox(autoescape=False)  # plain text; pages escape when they render it


def check(template: str) -> str | None:
    """Why a designer's template cannot be deployed, or None when it can."""
    if len(template) > MAX_TEMPLATE_CHARS:
        return f"the template is longer than {MAX_TEMPLATE_CHARS} characters"
    try:
        _TEXTS.from_string(template)
    except TemplateError as exc:
        return f"the template does not compile: {exc}"
    return None


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
        with cpu_limited(TEMPLATE_CPU_SECONDS), memory_capped():
            size, pieces = 0, []
            for piece in _TEXTS.from_string(template[:MAX_TEMPLATE_CHARS]).generate(**context):
                size += len(piece)
                pieces.append(piece)
                if size > MAX_TEXT_CHARS:
                    break
        return "".join(pieces)[:MAX_TEXT_CHARS]
    except _RENDER_ERRORS as exc:  # a designer's template must not hide or break the request
        log.warning("template of %s v%s failed: %r", version.process_key, version.version, exc)
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
