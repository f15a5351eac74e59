"""Rows as the clients expect them on the wire (spec §3.1, §3.2): times as strings plus a unix
stamp, `goods` as [] or the card object, ids as ints. Text messages were HTML-escaped before they
were stored, so every path out (frames, history, conversation rows) carries the escaped text."""
from __future__ import annotations

import html
from typing import Any

import orjson

from shared.timefmt import format_time, unix


def escape_text(text: str) -> str:
    """What the original console needs: &, <, >, " and ' as entities."""
    return html.escape(text, quote=True)


def record(rec: dict, tz: str, from_nickname: str | None = None, from_avatar: str | None = None) -> dict[str, Any]:
    goods: Any = []
    if rec["msg_type"] == 3:
        try:
            goods = orjson.loads(rec["msg"])
        except orjson.JSONDecodeError:
            goods = []
    created = format_time(rec["create_time"], tz)
    out = {
        "id": rec["id"], "shop_id": rec["shop_id"], "user_id": rec["user_id"], "seq": rec["seq"],
        "from_id": rec["from_id"], "from_type": rec["from_type"], "to_id": rec["to_id"], "to_type": rec["to_type"],
        "msg": rec["msg"], "msg_type": rec["msg_type"], "is_read": rec["is_read"], "type": rec["type"],
        "create_time": created,
        "update_time": created if rec["update_time"] == rec["create_time"] else format_time(rec["update_time"], tz),
        "create_time_stamp": unix(rec["create_time"]),
        "from_avatar": rec.get("from_avatar", "") if from_avatar is None else from_avatar,
        "from_nickname": rec.get("from_nickname", "") if from_nickname is None else from_nickname,
        "goods": goods,
    }
    if rec.get("client_msg_id"):
        out["client_msg_id"] = rec["client_msg_id"]
    return out


def relation(rel: dict, tz: str, online: bool) -> dict[str, Any]:
    return {
        "id": rel["id"], "shop_id": rel["shop_id"], "user_id": rel["user_id"], "kefu_id": rel["kefu_id"],
        "nickname": rel["nickname"], "avatar": rel["avatar"], "client": rel["client"], "msg": rel["msg"],
        "msg_type": rel["msg_type"], "is_read": rel["is_read"], "unread": rel["unread"],
        "last_seq": rel["last_seq"], "create_time": format_time(rel["create_time"], tz),
        "update_time": format_time(rel["update_time"], tz), "online": 1 if online else 0,
    }
