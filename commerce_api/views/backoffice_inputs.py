"""Input fields and output shaping shared by the back-office views (/shopapi, /adminapi) and the
customer-service configuration views.

Their WholeNumber is more lenient than `shared.inputs.WholeNumber` (it reads 2.0, signs and
non-ASCII digits, and leaves the range to each field's validator and message), so it stays here.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from marshmallow import ValidationError, fields, validate

from shared.inputs import INT4_MAX
from shared.timefmt import format_time

MAX_PATH_LENGTH = 255
# A relative path under the upload root, as the upload endpoints return them (uploads/user/3/x.png):
# no scheme, no leading slash, no parent segments, no empty segments, no backslashes.
_UPLOAD_PATH_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-./]*$")


class WholeNumber(fields.Integer):
    """An integer, also as a numeric string (form bodies); 1.5 is refused instead of truncated."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Trimmed(fields.String):
    """A string without surrounding whitespace. NUL is refused here: Postgres text cannot hold it."""

    default_error_messages = {"nul": "含有无效字符"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if "\x00" in text:
            raise self.make_error("nul")
        return text


def id_field(label: str, **kwargs: Any) -> WholeNumber:
    """A required positive int4 id."""
    return WholeNumber(required=True, validate=validate.Range(min=1, max=INT4_MAX, error=f"{label}无效"),
                       error_messages={"required": f"请选择{label}", "invalid": f"{label}必须是整数",
                                       "null": f"请选择{label}"}, **kwargs)


def flag_field(label: str, **kwargs: Any) -> WholeNumber:
    """0 or 1."""
    return WholeNumber(validate=validate.OneOf((0, 1), error=f"{label}只能是 0 或 1"),
                       error_messages={"required": f"请选择{label}", "invalid": f"{label}只能是 0 或 1",
                                       "null": f"{label}只能是 0 或 1"}, **kwargs)


def sort_field(**kwargs: Any) -> WholeNumber:
    return WholeNumber(validate=validate.Range(min=0, max=999_999, error="排序必须是 0 到 999999 的整数"),
                       error_messages={"invalid": "排序必须是整数", "null": "排序必须是整数"}, **kwargs)


def text_field(label: str, max_length: int, *, required: bool = False, allow_blank: bool | None = None,
               **kwargs: Any) -> Trimmed:
    """A trimmed string of at most max_length characters. Blank is refused when required, or when
    allow_blank is False (an optional field that, when given, must say something)."""
    checks = [validate.Length(max=max_length, error=f"{label}不能超过 {max_length} 个字符")]
    if not (not required if allow_blank is None else allow_blank):
        checks.insert(0, validate.Length(min=1, error=f"请输入{label}"))
    return Trimmed(required=required, validate=checks,
                   error_messages={"required": f"请输入{label}", "invalid": f"{label}必须是字符串",
                                   "null": f"请输入{label}", "nul": f"{label}含有无效字符"}, **kwargs)


def upload_path_field(label: str, **kwargs: Any) -> Trimmed:
    """A relative upload path ('' clears it)."""
    def check(value: str) -> None:
        if value and (len(value) > MAX_PATH_LENGTH or not _UPLOAD_PATH_RE.match(value)
                      or ".." in value or "//" in value):
            raise ValidationError(f"{label}必须是上传文件的相对路径")
    return Trimmed(validate=check, error_messages={"invalid": f"{label}必须是字符串", "null": f"{label}必须是字符串"},
                   **kwargs)


def with_times(row: dict[str, Any], tz: str, names: Iterable[str] = ("create_time", "update_time")) -> dict[str, Any]:
    """The row with its timestamps as "YYYY-MM-DD HH:MM:SS" strings in the mall's time zone."""
    for name in names:
        if name in row:
            row[name] = format_time(row[name], tz)
    return row
