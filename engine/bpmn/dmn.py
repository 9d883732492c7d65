"""DMN decision tables: FEEL unary tests and literals translated to what SpiffWorkflow evaluates.

SpiffWorkflow 3.2.0 runs a decision table's input entries as Python, with `?` standing for the
input (`? > 5`), and `==` added when the entry is a plain value. Camunda Modeler and other DMN
tools write FEEL: `"A"`, `< 10`, `[1..5]`, `-`, `"A","B"`, `not("A")`, `true`. Those are
translated once, at deploy; an entry outside the subset is refused naming its rule.
"""

import re

from lxml import etree

DMN_SUFFIX = ".dmn"
_RANGE = re.compile(r"^([\[\]\(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\[\]\)])$")
_COMPARE = re.compile(r"^(<=|>=|<|>|=|!=)\s*(.+)$")
_LITERAL = re.compile(r'^(-?\d+(\.\d+)?|"[^"\\]*"|true|false|null|[A-Za-z_][A-Za-z0-9_]*)$')


class FeelError(ValueError):
    """A FEEL expression outside the subset FlowDesk translates."""


def is_dmn(name: str) -> bool:
    return name.lower().endswith(DMN_SUFFIX)


def literal(text: str) -> str:
    """A FEEL literal or name -> Python (`true` -> `True`, `"A"` -> `"A"`)."""
    text = text.strip()
    if not _LITERAL.match(text):
        raise FeelError(f"'{text}' is not a FEEL literal or name")
    return {"true": "True", "false": "False", "null": "None"}.get(text, text)


def unary_test(text: str | None) -> str:
    """A FEEL unary test -> the Python SpiffWorkflow's DMN engine evaluates ('' matches all).

    Raises:
        FeelError: outside the subset (functions, dates, paths); the message says which.
    """
    text = (text or "").strip()
    if text in ("", "-"):
        return ""
    if text.startswith("not(") and text.endswith(")"):
        inner = unary_test(text[4:-1])
        return f"not ({_as_test(inner)})"
    items = _split(text)
    if len(items) > 1:
        return " or ".join(f"({_as_test(unary_test(item))})" for item in items)
    compare = _COMPARE.match(text)
    if compare:
        operator = "==" if compare.group(1) == "=" else compare.group(1)
        return f"? {operator} {literal(compare.group(2))}"
    found = _RANGE.match(text)
    if found:
        low = ">=" if found.group(1) == "[" else ">"
        high = "<=" if found.group(4) == "]" else "<"
        return f"? {low} {literal(found.group(2))} and ? {high} {literal(found.group(3))}"
    return literal(text)


def _as_test(python: str) -> str:
    """A plain value becomes `? == value`, so it combines with others."""
    return python if "?" in python else f"? == {python}"


def _split(text: str) -> list[str]:
    """Split on commas outside quotes and brackets."""
    items, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "[(":
            depth += 1
        elif not quoted and char in "])":
            depth -= 1
        if char == "," and not quoted and depth <= 0:
            items.append(current)
            current = ""
            continue
        current += char
    return [*items, current] if items else [text]


def translate(name: str, tree, problems: list) -> None:
    """Rewrite one DMN document's input and output entries in place (FEEL -> Python)."""
    for rule in tree.iter("{*}rule"):
        for entry in rule.iterfind("{*}inputEntry/{*}text"):
            _rewrite(name, rule, entry, unary_test, problems)
        for entry in rule.iterfind("{*}outputEntry/{*}text"):
            _rewrite(name, rule, entry, lambda t: literal(t) if t.strip() else "", problems)


def _rewrite(name, rule, entry, translator, problems) -> None:
    try:
        entry.text = translator(entry.text or "")
    except FeelError as exc:
        problems.append(
            {
                "file": name,
                "line": entry.sourceline,
                "id": rule.get("id"),
                "message": f"FEEL {exc}: write a value, a comparison, a range or a list",
            }
        )


def decision_ids(tree) -> set[str]:
    return {d.get("id") for d in tree.iter("{*}decision") if d.get("id")}


def local(element) -> str:
    return etree.QName(element).localname
