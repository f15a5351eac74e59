"""Input schemas of the buyer API (/api/*) and the internal API (/internal/*).

The fields are the strict ones of `shared.inputs`: ids are ASCII-digit int4s, so that an oversized
id is a clear input error instead of a database overflow.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from shared.inputs import DIGITS_RE, INT4_MAX, Text, WholeNumber, record_id
from shared.web import Input

BUYER_CLIENTS = (1, 2, 3, 4, 6)          # 5 is the kefu pc console, which logs in elsewhere
MOBILE_RE = re.compile(r"^1\d{10}$")
MAX_IDS = 100


def client_field() -> WholeNumber:
    message = "无效的客户端"
    return WholeNumber(required=True, validate=validate.OneOf(BUYER_CLIENTS, error=message),
                       error_messages={"required": message, "null": message, "invalid": message})


def _check_mobile(value: str) -> None:
    if not value:
        raise ValidationError("请输入手机号")
    if not MOBILE_RE.match(value):
        raise ValidationError("请输入正确的手机号")


def _mobile_field() -> Text:
    return Text(required=True, validate=_check_mobile,
                error_messages={"required": "请输入手机号", "null": "请输入手机号", "invalid": "请输入正确的手机号"})


def _password_field() -> Text:
    return Text(required=True, strip=False,
                error_messages={"required": "请输入密码", "null": "请输入密码", "invalid": "密码格式不正确"})


# ------------------------------------------------------------------------------------- account

class _AccountInput(Input):
    mobile = _mobile_field()
    password = _password_field()
    client = client_field()


class LoginInput(_AccountInput):
    @validates("password")
    def _password(self, value: str, **kwargs: Any) -> None:
        if not value:
            raise ValidationError("请输入密码")
        # Long enough for any real password; bounds the hashing work a caller can ask for.
        if len(value) > 128:
            raise ValidationError("密码长度不能超过128位")


class RegisterInput(_AccountInput):
    @validates("password")
    def _password(self, value: str, **kwargs: Any) -> None:
        if not value:
            raise ValidationError("请输入密码")
        if not 6 <= len(value) <= 32:
            raise ValidationError("密码长度须为6-32位")


# --------------------------------------------------------------------------------- goods, shops

class GoodsDetailInput(Input):
    goods_id = record_id("goods_id")


class GoodsListInput(Input):
    # 0 or absent: goods of every shop
    shop_id = record_id("shop_id", required=False, allow_zero=True, load_default=0)


class ShopInfoInput(Input):
    shop_id = record_id("shop_id")


# -------------------------------------------------------------------------------------- orders

# likeshop's list tabs → order_status (None: every status)
ORDER_LIST_TYPES = {"all": None, "pay": 0, "delivery": 1, "take": 2, "finish": 3, "close": 4}


class OrderListInput(Input):
    type = Text(load_default="all", error_messages={"invalid": "type 必须是字符串", "null": "type 必须是字符串"})

    @validates("type")
    def _type(self, value: str, **kwargs: Any) -> None:
        if value and value not in ORDER_LIST_TYPES:
            raise ValidationError("type 只能是 all、pay、delivery、take、finish、close 之一")


class OrderDetailInput(Input):
    id = record_id("id")


# ------------------------------------------------------------------------------------ internal

class InternalUserInput(Input):
    user_id = record_id("user_id")


class InternalOrdersInput(Input):
    user_id = record_id("user_id")
    # 0 or absent: orders in every shop (what the platform kefu sees)
    shop_id = record_id("shop_id", required=False, allow_zero=True, load_default=0)
    # a prefix of the order number; empty means no filter
    order_sn = Text(load_default="", validate=validate.Length(max=64, error="order_sn 不能超过64个字符"),
                    error_messages={"invalid": "order_sn 必须是字符串", "null": "order_sn 必须是字符串"})


class IdList(fields.Field):
    """Comma-separated ids, "1,2,3" → [1, 2, 3] (order kept, duplicates dropped); at most MAX_IDS."""

    default_error_messages = {"invalid": "ids 必须是逗号分隔的商品 id，如 1,2,3",
                              "too_many": f"ids 最多 {MAX_IDS} 个"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[int]:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        parts = [part.strip() for part in value.split(",")]
        if any(not DIGITS_RE.match(part) for part in parts):
            raise self.make_error("invalid")
        ids = list(dict.fromkeys(int(part) for part in parts))
        if any(not 1 <= i <= INT4_MAX for i in ids):
            raise self.make_error("invalid")
        if len(ids) > MAX_IDS:
            raise self.make_error("too_many")
        return ids


class GoodsCardsInput(Input):
    ids = IdList(required=True, error_messages={"required": "缺少参数 ids", "null": "缺少参数 ids"})
