"""Helpers of the chat server's HTTP tests: calling an endpoint and arranging conversations."""
from __future__ import annotations

from chat_server.data.conversations import NewMessage, store_message
from chat_server.wire import escape_text

# What wire.record and wire.relation put on the wire (client_msg_id only when one was given).
RECORD_KEYS = {"id", "shop_id", "user_id", "seq", "from_id", "from_type", "to_id", "to_type", "msg", "msg_type",
               "is_read", "type", "create_time", "update_time", "create_time_stamp", "from_avatar", "from_nickname",
               "goods"}
RELATION_KEYS = {"id", "shop_id", "user_id", "kefu_id", "nickname", "avatar", "client", "msg", "msg_type", "is_read",
                 "unread", "last_seq", "create_time", "update_time", "online"}
PAGE_KEYS = {"list", "page", "size", "count", "more"}


async def call(live, method: str, path: str, token: str | None = None, headers: dict | None = None, **kw) -> dict:
    """The JSON envelope of one request (always HTTP 200)."""
    resp = await live.client.request(method, path, headers={**({"token": token} if token else {}), **(headers or {})},
                                     **kw)
    assert resp.status == 200
    return await resp.json()


async def get(live, path: str, token: str | None = None, **params) -> dict:
    return await call(live, "GET", path, token, params=params)


async def say(db, shop_id: int, user_id: int, kefu_id: int, text: str, *, from_user: bool = True,
              notice: bool = False) -> dict:
    """Store a text message of a conversation as the chat service would (escaped); returns the record."""
    message = NewMessage(
        shop_id=shop_id, user_id=user_id, from_id=user_id if from_user else kefu_id,
        from_type="user" if from_user else "kefu", to_id=kefu_id if from_user else user_id,
        to_type="kefu" if from_user else "user", msg=escape_text(text), msg_type=1, type=2 if notice else 1,
        nickname=f"买家{user_id:02d}", avatar="uploads/demo/user.png", client=6)
    record, _relation = await store_message(db, message, kefu_id)
    return record


def assert_int(*values) -> None:
    for value in values:
        assert type(value) is int, value
