"""Input schemas of the chat server's HTTP API (/kefuapi/*, /api/user/chatRecord, /api/index/chatConfig).

The fields are the strict ones of `shared.inputs`: ids are ASCII-digit int4s, and every message
names what is wrong.
"""
from __future__ import annotations

from marshmallow import validate

from shared.inputs import Text, WholeNumber, record_id, search_text
from shared.web import Input

KEFU_CLIENT = 5                  # the kefu console is always the pc client
PLATFORM, MERCHANT = 0, 1        # login `type`: table `admin` or `shop_admin`


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
