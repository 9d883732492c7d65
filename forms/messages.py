"""Field messages in Chinese and English, by code: what a person reads beside a field.

Validation reports a code and its parameters (`FieldError`); each front end shows the text in
its reader's language. The API sends the English text in `errors` and every language in
`messages`, so clients never parse or compare message strings.
"""

from dataclasses import dataclass, field

TEXTS = {
    "required": ("This field is required.", "此项为必填项。"),
    "not_in_form": ("This field is not part of the form.", "此项不属于该表单。"),
    "reserved": ("This field name is reserved.", "该字段名为保留字段。"),
    "choice": ("Choose one of the options.", "请从选项中选择。"),
    "pattern": ("This does not match the expected format.", "格式不正确。"),
    "format.email": ("Enter a valid email address.", "请输入有效的邮箱地址。"),
    "format.date": ("Enter a valid date (YYYY-MM-DD).", "请输入有效日期（YYYY-MM-DD）。"),
    "format.date-time": ("Enter a date and time.", "请输入日期和时间。"),
    "format.uri": ("Enter a valid web address.", "请输入有效的网址。"),
    "format": ("This value is not valid.", "该值无效。"),
    "type.integer": ("Enter a whole number.", "请输入整数。"),
    "type.number": ("Enter a number.", "请输入数字。"),
    "type.boolean": ("Choose yes or no.", "请选择是或否。"),
    "type.string": ("Enter text.", "请输入文字。"),
    "type.object": ("Fill in the fields of this group.", "请填写该组字段。"),
    "type.array": ("Give a list.", "请提供列表。"),
    "type": ("This value is not valid.", "该值无效。"),
    "max_length": ("At most {num} characters.", "最多 {num} 个字符。"),
    "min_length": ("At least {num} characters.", "至少 {num} 个字符。"),
    "max_items": ("Choose at most {num}.", "最多选择 {num} 项。"),
    "min_items": ("Add at least {num}.", "至少添加 {num} 项。"),
    "minimum": ("Must be at least {num}.", "不能小于 {num}。"),
    "maximum": ("Must be at most {num}.", "不能大于 {num}。"),
    "exclusive_minimum": ("Must be more than {num}.", "必须大于 {num}。"),
    "exclusive_maximum": ("Must be less than {num}.", "必须小于 {num}。"),
    "multiple_of": ("Must be a multiple of {num}.", "必须是 {num} 的倍数。"),
    "unique": ("Each entry must be different.", "各项不能重复。"),
    "not_before": ("Choose {day} or later.", "请选择 {day} 或之后的日期。"),
    "not_after": ("Choose {day} or earlier.", "请选择 {day} 或之前的日期。"),
    "invalid": ("This value is not valid.", "该值无效。"),
    "integer": ("Enter a whole number.", "请输入整数。"),
    "number": ("Enter a number.", "请输入数字。"),
    "datetime": ("Enter a date and time.", "请输入日期和时间。"),
    "decision_required": ("Choose Approve or Reject.", "请选择批准或驳回。"),
    "reason_required": ("Say why you reject the request.", "请说明驳回的原因。"),
    "file_too_large": ("The file is too large (at most {num} MB).", "文件过大（最大 {num} MB）。"),
    "file_type": ("This type of file is not accepted.", "不接受此类型的文件。"),
    "file_empty": ("The file is empty.", "文件为空。"),
    "file_unknown": ("Unknown file.", "未知文件。"),
    "lookup_unavailable": ("This could not be checked now; try again.", "暂时无法校验，请重试。"),
}


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: a message code, its parameters, or texts of its own."""

    code: str
    params: dict = field(default_factory=dict)
    texts: tuple[str, str] | None = None  # (English, Chinese) for messages not in TEXTS

    def text(self, lang: str = "en") -> str:
        en, zh = self.texts or TEXTS.get(self.code, TEXTS["invalid"])
        template = zh if lang == "zh" else en
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return template

    def as_json(self) -> dict:
        return {"code": self.code, "en": self.text("en"), "zh": self.text("zh")}


def as_problem(errors: dict[str, list[FieldError]]) -> dict:
    """The `extra` of an InvalidInput: English `errors` and both languages in `messages`."""
    return {
        "errors": {name: [e.text("en") for e in items] for name, items in errors.items()},
        "messages": {name: [e.as_json() for e in items] for name, items in errors.items()},
    }


def localized(extra: dict, lang: str) -> dict[str, list[str]]:
    """An InvalidInput's field messages in one language (English `errors` when none are coded)."""
    messages = extra.get("messages")
    if not messages:
        return {name: list(items) for name, items in (extra.get("errors") or {}).items()}
    return {
        name: [m.get(lang) or m.get("en", "") for m in items] for name, items in messages.items()
    }
