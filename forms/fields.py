"""A form as a tree of fields in the reader's language: what one set of templates renders.

Field names are dotted paths (`items.0.qty`), the same paths validation uses as error keys, so
every message lands beside its field. UI hints may give the field order per language
(`"order": {"en": [...], "zh": [...]}`), e.g. family name first in Chinese.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from forms.model import Form, resolve_day

INDEX = re.compile(r"^\d+$")


@dataclass
class Field:
    """One field of a form, in the reader's language, ready for a template."""

    key: str
    schema: dict
    widget: str
    label: str
    help: str = ""
    placeholder: str = ""
    required: bool = False
    options: list[tuple[str, object, str]] = field(default_factory=list)  # (posted, value, label)
    children: list["Field"] = field(default_factory=list)  # object widget
    item: "Field | None" = None  # array widget: one row
    attrs: dict = field(default_factory=dict)  # HTML attributes (maxlength, min, max, step)

    def option_label(self, value) -> str:
        for _posted, option, label in self.options:
            if option == value:
                return label
        return "" if value is None else str(value)


def text(value, lang: str) -> str:
    """The reader's language out of a {"en": ..., "zh": ...} mapping (or a plain string)."""
    if isinstance(value, dict):
        return value.get(lang) or value.get("en") or value.get("zh") or ""
    return value or ""


def fields_for(form: Form, lang: str, *, today: date | None = None) -> list[Field]:
    return _fields(form.schema, form.ui, lang, today)


def order_of(ui: dict, props: dict, lang: str) -> list[str]:
    order = ui.get("order") or []
    if isinstance(order, dict):
        order = order.get(lang) or order.get("en") or []
    keys = [k for k in order if k in props]
    return keys + [k for k in props if k not in keys]


def _fields(schema: dict, ui: dict, lang: str, today) -> list[Field]:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    hints = ui.get("fields", {})
    return [
        _field(key, props[key], hints.get(key, {}), key in required, lang, today)
        for key in order_of(ui, props, lang)
        if not hints.get(key, {}).get("hidden")
    ]


def _field(key: str, schema: dict, ui: dict, required: bool, lang: str, today) -> Field:
    widget = _widget(schema, ui)
    label = text(ui.get("label"), lang) or schema.get("title") or key.replace("_", " ").title()
    result = Field(
        key=key,
        schema=schema,
        widget=widget,
        label=label,
        help=text(ui.get("help"), lang) or schema.get("description", ""),
        placeholder=text(ui.get("placeholder"), lang),
        required=required,
        attrs=_attrs(schema, widget, today),
    )
    choices = schema.get("enum") or schema.get("items", {}).get("enum") or []
    labels = ui.get("options", {})
    result.options = [(posted(v), v, text(labels.get(str(v)), lang) or str(v)) for v in choices]
    if widget == "object":
        result.children = _fields(schema, ui, lang, today)
    elif widget == "array":
        item_ui = ui.get("item") or {"fields": ui.get("fields", {}), "order": ui.get("order")}
        item_ui = {**item_ui, "label": item_ui.get("label") or ui.get("label")}
        result.item = _field("", schema.get("items", {}), item_ui, True, lang, today)
    return result


def _widget(schema: dict, ui: dict) -> str:
    asked = ui.get("widget")
    kind = schema.get("type")
    if asked == "file":
        return "file"
    if kind == "object":
        return "object"
    if kind == "array":
        if schema.get("items", {}).get("enum"):
            return asked if asked in ("multiselect", "checkbox") else "checkbox"
        return "array"
    if kind == "boolean":
        return "boolean"
    if "enum" in schema:
        return asked if asked in ("select", "radio") else "select"
    if kind in ("integer", "number"):
        return kind
    fmt = schema.get("format")
    if fmt in ("date", "email"):
        return fmt
    if fmt == "date-time":
        return "datetime"
    if fmt in ("uri", "url"):
        return "url"
    return asked if asked in ("textarea", "tel", "email", "text") else "text"


def _attrs(schema: dict, widget: str, today) -> dict:
    attrs = {}
    if widget in ("text", "textarea", "email", "url", "tel") and schema.get("maxLength"):
        attrs["maxlength"] = schema["maxLength"]
    if widget in ("integer", "number"):
        for keyword, attr in (("minimum", "min"), ("maximum", "max")):
            if keyword in schema:
                attrs[attr] = schema[keyword]
        attrs["step"] = 1 if widget == "integer" else "any"
        attrs["inputmode"] = "numeric" if widget == "integer" else "decimal"
    if widget == "date" and today is not None:
        for keyword, attr in (("x-not-before", "min"), ("x-not-after", "max")):
            day = resolve_day(schema[keyword], today) if keyword in schema else None
            if day is not None:
                attrs[attr] = day.isoformat()
    return attrs


def posted(value) -> str:
    """How a value travels in an HTML form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def schema_at(schema: dict, path: str) -> dict:
    """The sub-schema at a dotted error path ("items.0.qty"), or {}."""
    node = schema
    for part in path.split("."):
        if INDEX.match(part) and "items" in node:
            node = node["items"]
        else:
            node = node.get("properties", {}).get(part)
            if node is None:
                return {}
    return node


def label_at(fields: list[Field], name: str) -> str:
    """The label of the field at a dotted path, with row numbers ("Items · 2 · Quantity")."""
    parts, labels, level, i = name.split("."), [], fields, 0
    while i < len(parts):
        found = next((f for f in level if f.key == parts[i]), None)
        if found is None:
            break
        labels.append(found.label)
        level = found.children
        if found.widget == "array" and i + 1 < len(parts) and INDEX.match(parts[i + 1]):
            labels.append(str(int(parts[i + 1]) + 1))
            level = found.item.children
            i += 1
        i += 1
    return " · ".join(labels) or name


def summary(fields: list[Field], errors: dict[str, list[str]]) -> list[dict]:
    """The error list at the top of a form: label, message and anchor per field, in form order."""
    position = {name: i for i, name in enumerate(_paths(fields))}
    ordered = sorted(errors.items(), key=lambda item: position.get(item[0].split(".")[0], 10**6))
    return [
        {
            "anchor": "f-" + name.replace(".", "-"),
            "label": label_at(fields, name),
            "message": " ".join(messages),
        }
        for name, messages in ordered
    ]


def _paths(fields: list[Field]) -> list[str]:
    return [f.key for f in fields]


def labelled(values: dict, form: Form, lang: str) -> dict:
    """The values with each choice shown by its label in the reader's language."""
    out = dict(values)
    props = form.schema.get("properties", {})
    hints = form.ui.get("fields", {})
    for key, value in values.items():
        options = hints.get(key, {}).get("options")
        if not options or key not in props:
            continue
        if isinstance(value, list):
            out[key] = ", ".join(text(options.get(str(v)), lang) or str(v) for v in value)
        elif value is not None and str(value) in options:
            out[key] = text(options[str(value)], lang) or str(value)
    return out
