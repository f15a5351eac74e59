"""Handshake and the core flow of spec §2, §3.1, §3.2, frame by frame."""
import re

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


async def test_user_online_and_text_message_roundtrip(live):
    kefu = await live.kefu(2)
    user = await live.user(7, shop_id=1)
    await user.send("user_online", {"kefu_id": 2})
    row = await kefu.expect("user_online")
    assert row["online"] == 1 and row["user_id"] == 7 and row["shop_id"] == 1 and row["kefu_id"] == 2
    assert set(row) >= {"id", "shop_id", "user_id", "kefu_id", "nickname", "avatar", "client", "msg", "msg_type",
                        "is_read", "create_time", "update_time", "online"}

    await user.send("chat", {"msg": "你好 <b>", "msg_type": 1, "to_id": "2", "to_type": "kefu"})
    echo = await user.expect("chat")
    got = await kefu.expect("chat")
    assert echo == got
    assert got["msg"] == "你好 &lt;b&gt;"
    assert got["from_id"] == 7 and got["from_type"] == "user" and got["to_id"] == 2 and got["to_type"] == "kefu"
    assert got["shop_id"] == 1 and got["user_id"] == 7 and got["seq"] == 1
    assert isinstance(got["id"], int) and isinstance(got["create_time_stamp"], int)
    assert TIME_RE.match(got["create_time"]) and TIME_RE.match(got["update_time"])
    assert got["goods"] == [] and got["type"] == 1 and got["is_read"] == 0 and got["msg_type"] == 1
    assert got["from_nickname"] == "买家07" and got["from_avatar"] == "uploads/demo/user.png"

    await kefu.send("chat", {"msg": "您好", "msg_type": 1, "to_id": 7, "to_type": "user"})
    reply_echo = await kefu.expect("chat")
    reply = await user.expect("chat")
    assert reply == reply_echo and reply["seq"] == 2 and reply["from_type"] == "kefu" and reply["to_id"] == 7

    stored = await live.db.fetch("SELECT seq, msg FROM chat_record WHERE shop_id = 1 AND user_id = 7 ORDER BY seq")
    assert [(r["seq"], r["msg"]) for r in stored] == [(1, "你好 &lt;b&gt;"), (2, "您好")]


async def test_bad_token_gets_error_frame_and_4001(live):
    sock = await live.connect("token=0123456789abcdef0123456789abcdef&type=user&client=6&shop_id=1",
                              expect_login=False)
    code, frames = await sock.closed()
    assert code == 4001
    assert frames == [{"event": "error", "data": {"msg": "登录已失效，请重新登录", "msg_type": 1}}]


async def test_kefu_with_another_shops_id_is_refused_4003(live):
    token = await live.kefu_token(2)   # a kefu of shop 1
    sock = await live.connect(f"token={token}&type=kefu&client=5&shop_id=2", expect_login=False)
    code, frames = await sock.closed()
    assert code == 4003 and frames[0]["event"] == "error"
