"""Translate the simple JUEL/EL of Camunda, Activiti and Flowable models into sandbox Python.

Conditions such as `${approved}`, `${!approved}`, `${amount > 1000 && region == 'east'}` or
`#{empty comment}` are what most Camunda 7 and Flowable models hold. They are translated once, at
deploy time; anything outside the subset below (method calls, `execution`, the ternary, lambdas)
is refused naming the expression, never accepted to fail on a requester's instance.

Subset: one `${...}` or `#{...}` around the whole text; names and `a.b` properties (read as
`a["b"]`); string, number, `true`, `false`, `null` literals; `! not && and || or`, `== eq != ne
< lt > gt <= le >= ge`, `empty`, `+ - * / div % mod`, parentheses.
"""

import re

WRAPPED = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
    |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<op>&&|\|\||==|!=|<=|>=|[<>!()+\-*/%.])
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_WORDS = {
    "and": "and",
    "or": "or",
    "not": "not",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
    "true": "True",
    "false": "False",
    "null": "None",
}
_OPS = {"&&": "and", "||": "or", "!": "not"}
_REFUSED_NAMES = {"execution", "task", "authenticatedUserId", "instanceof"}


class JuelError(ValueError):
    """An expression outside the JUEL subset FlowDesk translates."""


def is_juel(text: str | None) -> bool:
    """The text is one `${...}` or `#{...}` expression (Camunda, Activiti, Flowable)."""
    return bool(text and WRAPPED.match(text))


def to_python(text: str) -> str:
    """Translate one JUEL expression into a Python expression for the script sandbox.

    Raises:
        JuelError: the expression uses something outside the subset; the message says what.
    """
    match = WRAPPED.match(text or "")
    if not match:
        raise JuelError(f"'{text}' is not a ${{...}} expression")
    source = match.group(1)
    if not source.strip():
        raise JuelError("empty expression")
    out: list[str] = []
    position = 0
    while position < len(source):
        token = _TOKEN.match(source, position)
        if token is None or token.end() == position:
            rest = source[position:].strip()
            if not rest:
                break
            raise JuelError(f"'{text}': cannot translate '{rest[:20]}'")
        position = token.end()
        out.append(_translate(token, out, text, source, position))
    return _empty(" ".join(t for t in out if t)).replace(" . ", ".")


def _translate(token, out: list[str], text: str, source: str, position: int) -> str:
    kind, value = token.lastgroup, token.group(token.lastgroup)
    if kind == "number":
        return value
    if kind == "string":
        return repr(bytes(value[1:-1], "utf-8").decode("unicode_escape"))
    if kind == "op":
        if value == ".":
            return "."
        return _OPS.get(value, value)
    if value in _WORDS:
        return _WORDS[value]
    if value == "empty":
        return "__empty__"
    if value in _REFUSED_NAMES:
        raise JuelError(f"'{text}': '{value}' is Camunda's Java API, which FlowDesk does not have")
    if out and out[-1] == ".":
        out.pop()
        return f'["{value}"]' if not _is_call(source, position) else _call(text, value)
    if _is_call(source, position):
        _call(text, value)
    return value


def _is_call(source: str, position: int) -> bool:
    return source[position:].lstrip().startswith("(")


def _call(text: str, name: str) -> str:
    raise JuelError(f"'{text}': method and function calls ({name}(...)) are not translated")


def _empty(python: str) -> str:
    """`__empty__ x` -> `(x in (None, '', [], {}))`, for a name or a property path."""
    pattern = re.compile(r"__empty__ ([A-Za-z_][A-Za-z0-9_]*(?:\s*\[\"[^\"]*\"\])*)")
    python = pattern.sub(lambda m: f"({m.group(1)} in (None, '', [], {{}}))", python)
    if "__empty__" in python:
        raise JuelError("'empty' must be followed by a name")
    return re.sub(r'\s+\["', '["', python)
