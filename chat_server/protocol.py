"""Frames of the wire protocol (spec section 3): C→S frames decoded and validated in one pass by
msgspec (a tagged union on `event`), S→C frames encoded once with orjson.

Only the events a client may send are in the union, so internal names (`login`, `close`, ...) and
unknown names fail decoding like any other bad frame. Which role may send which event is checked
by the dispatcher (`ROLE_EVENTS`).
"""
from __future__ import annotations

from typing import Annotated, Any, Union

import msgspec
import orjson

Id = Union[int, str]   # clients send ids as ints or numeric strings; to_int() bounds them
INT4_MAX = 2_147_483_647          # ids are Postgres integers
Seq = Annotated[int, msgspec.Meta(ge=0, le=2 ** 62)]


class ChatData(msgspec.Struct):
    msg: Union[str, int]          # text, image path, or a goods id (some clients send it as a number)
    msg_type: int
    to_id: Id
    to_type: str
    client_msg_id: Union[str, None] = None


class UserOnlineData(msgspec.Struct):
    kefu_id: Union[Id, None] = None


class TransferData(msgspec.Struct):
    user_id: Id
    kefu_id: Id


class ReadData(msgspec.Struct):
    shop_id: Union[Id, None] = None
    user_id: Union[Id, None] = None


class SyncData(msgspec.Struct):
    shop_id: Id
    after_seq: Seq
    user_id: Union[Id, None] = None


class TypingData(msgspec.Struct):
    to_id: Id
    to_type: str


class Ping(msgspec.Struct, tag_field="event", tag="ping"):
    data: Any = None


class Chat(msgspec.Struct, tag_field="event", tag="chat"):
    data: ChatData


class UserOnline(msgspec.Struct, tag_field="event", tag="user_online"):
    data: UserOnlineData = msgspec.field(default_factory=UserOnlineData)


class Transfer(msgspec.Struct, tag_field="event", tag="transfer"):
    data: TransferData


class Read(msgspec.Struct, tag_field="event", tag="read"):
    data: ReadData = msgspec.field(default_factory=ReadData)


class Sync(msgspec.Struct, tag_field="event", tag="sync"):
    data: SyncData


class Typing(msgspec.Struct, tag_field="event", tag="typing"):
    data: TypingData


Frame = Union[Ping, Chat, UserOnline, Transfer, Read, Sync, Typing]

# strict=False: numeric strings are accepted where ints are expected ("1" for msg_type), as the
# original PHP server accepted them.
_decoder = msgspec.json.Decoder(Frame, strict=False)

# Which events each role may send.
ROLE_EVENTS: dict[str, frozenset[type]] = {
    "user": frozenset({Ping, Chat, UserOnline, Read, Sync, Typing}),
    "kefu": frozenset({Ping, Chat, Transfer, Read, Sync, Typing}),
}


class BadFrame(ValueError):
    """The frame could not be decoded or validated; the message says why, in words for people.
    `fatal`: not JSON at all (or nested too deeply to read), so the connection is closed (1008)
    rather than answered."""

    def __init__(self, msg: str, fatal: bool = False):
        super().__init__(msg)
        self.fatal = fatal


TOO_DEEP = "消息格式错误: 嵌套过深"


def decode(raw: str | bytes) -> Frame:
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        if isinstance(raw, bytes) and not _is_utf8(raw):
            # not text at all (msgspec validated a leading value before reaching the bad bytes)
            raise BadFrame("消息格式错误: 不是有效的 UTF-8 JSON", fatal=True) from None
        text = str(exc)
        if "at `$.event`" in text and text.startswith("Invalid value"):
            raise BadFrame("未知事件") from None
        raise BadFrame(f"参数错误: {text}") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise BadFrame("消息格式错误: 不是有效的 UTF-8 JSON", fatal=True) from None
    except RecursionError:
        # msgspec recurses per nesting level (also when skipping unknown fields) and gives up at the
        # interpreter's recursion limit: no frame of the protocol nests more than a few levels.
        raise BadFrame(TOO_DEEP, fatal=True) from None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def to_int(value: Id | None) -> int | None:
    """An id from the wire as an int, or None when no row can have it (not a non-negative int4)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= INT4_MAX else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
        return number if number <= INT4_MAX else None
    return None


# ------------------------------------------------------------------------------------- S→C frames

def frame(event: str, data: Any) -> bytes:
    return orjson.dumps({"event": event, "data": data})


def message_frame(event: str, msg: str) -> bytes:
    """`error` and `notice` frames: {"msg": ..., "msg_type": 1}."""
    return frame(event, {"msg": msg, "msg_type": 1})


def ping_frame(now: float) -> bytes:
    return frame("ping", {"client_time": int(now)})


LOGIN_FRAME = message_frame("login", "连接成功")
