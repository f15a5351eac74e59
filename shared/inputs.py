"""Strict input fields shared by both services' HTTP schemas.

marshmallow's own Integer truncates 1.5 to 1 and reads non-ASCII digits; numbers here accept only a
JSON integer or a string of ASCII digits, and stay within Postgres' int4 so that a forged or
oversized id is a clear input error instead of a database overflow. Every message names what is
wrong.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import fields, validate

INT4_MAX = 2_147_483_647
DIGITS_RE = re.compile(r"^[0-9]{1,10}$")


class WholeNumber(fields.Field):
    """A non-negative int4: a JSON integer (not a bool) or a string of ASCII digits."""

    default_error_messages = {"invalid": "必须是整数"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and DIGITS_RE.match(value.strip()):
            number = int(value.strip())
        else:
            raise self.make_error("invalid")
        if not 0 <= number <= INT4_MAX:
            raise self.make_error("invalid")
        return number


class Text(fields.Field):
    """A string; a JSON number is taken as its digits (clients send a mobile, an account or an
    order number as one)."""

    default_error_messages = {"invalid": "必须是字符串"}

    def __init__(self, *, strip: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.strip = strip

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.make_error("invalid")
        text = str(value)
        return text.strip() if self.strip else text


def record_id(label: str, *, required: bool = True, allow_zero: bool = False, **kwargs: Any) -> WholeNumber:
    """An id parameter whose every error names it, e.g. "goods_id 必须是正整数"."""
    message = f"{label} 必须是{'非负' if allow_zero else '正'}整数"
    return WholeNumber(required=required, validate=validate.Range(min=0 if allow_zero else 1, error=message),
                       error_messages={"required": f"缺少参数 {label}", "null": message, "invalid": message},
                       **kwargs)


def search_text(label: str) -> Text:
    """An optional search term ('' = no filter), bounded so that a filter stays cheap."""
    message = f"{label}不能超过 64 个字符"
    return Text(load_default="", validate=validate.Length(max=64, error=message),
                error_messages={"invalid": f"{label}必须是字符串", "null": f"{label}必须是字符串"})
