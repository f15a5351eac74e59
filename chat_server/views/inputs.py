"""Input schemas of the chat server's HTTP API (/kefuapi/*, /api/user/chatRecord, /api/index/chatConfig).

Ids accept only a JSON integer or a string of ASCII digits within Postgres' int4 (marshmallow's
Integer would truncate 1.5 and read non-ASCII digits), so a forged or oversized id is a clear
input error, never a database overflow. Every message names what is wrong.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import fields, validate

from shared.web import Input

INT4_MAX = 2_147_483_647
KEFU_CLIENT = 5                  # the kefu console is always the pc client
PLATFORM, MERCHANT = 0, 1        # login `type`: table `admin` or `shop_admin`
_DIGITS_RE = re.compile(r"^[0-9]{1,10}$")


class WholeNumber(fields.Field):
    """A non-negative int4: a JSON integer (not a bool) or a string of ASCII digits."""

    default_error_messages = {"invalid": "必须是整数"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and _DIGITS_RE.match(value.strip()):
            number = int(value.strip())
        else:
            raise self.make_error("invalid")
        if not 0 <= number <= INT4_MAX:
            raise self.make_error("invalid")
        return number


class Text(fields.Field):
    """A string; a JSON number is taken as its digits (an account or an order number may come as one)."""

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
    """An id parameter whose every error names it, e.g. "user_id 必须是正整数"."""
    message = f"{label} 必须是{'非负' if allow_zero else '正'}整数"
    return WholeNumber(required=required, validate=validate.Range(min=0 if allow_zero else 1, error=message),
                       error_messages={"required": f"缺少参数 {label}", "null": message, "invalid": message},
                       **kwargs)


def search_text(label: str) -> Text:
    """An optional search term ('' = no filter), bounded so that a filter stays cheap."""
    message = f"{label}不能超过 64 个字符"
    return Text(load_default="", validate=validate.Length(max=64, error=message),
                error_messages={"invalid": f"{label}必须是字符串", "null": f"{label}必须是字符串"})


class KefuLoginInput(Input):
    account = Text(required=True, validate=[validate.Length(min=1, error="请输入账号"),
                                          validate.Length(max=64, error="账号不能超过 64 个字符")],
                   error_messages={"required": "请输入账号", "null": "请输入账号", "invalid": "账号必须是字符串"})
    password = Text(strip=False, required=True,
                    validate=[validate.Length(min=1, error="请输入密码"),
                              # long enough for any real password; bounds the hashing work asked for
                              validate.Length(max=128, error="密码不能超过 128 个字符")],
                    error_messages={"required": "请输入密码", "null": "请输入密码", "invalid": "密码必须是字符串"})
    type = WholeNumber(required=True, validate=validate.OneOf((PLATFORM, MERCHANT), error="账号类型错误"),
                       error_messages={"required": "请选择账号类型", "null": "请选择账号类型", "invalid": "账号类型错误"})
    client = WholeNumber(load_default=KEFU_CLIENT, validate=validate.OneOf((KEFU_CLIENT,), error="无效的客户端"),
                         error_messages={"null": "无效的客户端", "invalid": "无效的客户端"})


class UserListInput(Input):
    nickname = search_text("昵称")


class UserInput(Input):
    user_id = record_id("user_id")


class OrderInput(Input):
    user_id = record_id("user_id")
    order_sn = search_text("订单编号")


class ReplyInput(Input):
    keyword = search_text("关键词")


class ShopInput(Input):
    # absent: the platform (shop 0), as on the WebSocket handshake
    shop_id = record_id("shop_id", required=False, allow_zero=True, load_default=0)
