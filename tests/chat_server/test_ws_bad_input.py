"""Bad input of every class gets an `error` frame or a documented close code, loses nothing, and
leaves the server serving everyone else."""
import logging

import pytest

from tests.chat_server.test_events import start_conversation


async def still_serving(live, kefu, user):
    await user.send("chat", {"msg": "still here", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    assert (await kefu.expect("chat"))["msg"] == "still here"


@pytest.mark.parametrize("raw,expected", [
    ('{"event":"nope","data":{}}', "未知事件"),
    ('{"event":"login","data":{}}', "未知事件"),          # internal names are not events
    ('{"event":"close"}', "未知事件"),
    ('{"data":{}}', "参数错误"),
    ('[1,2,3]', "参数错误"),
    ('{"event":"chat","data":{"msg":"x","msg_type":1,"to_type":"kefu"}}', "参数错误"),        # missing to_id
    ('{"event":"chat","data":{"msg":"x","msg_type":"text","to_id":2,"to_type":"kefu"}}', "参数错误"),
    ('{"event":"chat","data":{"msg":["x"],"msg_type":1,"to_id":2,"to_type":"kefu"}}', "参数错误"),
    ('{"event":"chat","data":"hello"}', "参数错误"),
    ('{"event":"chat","data":{"msg":"x","msg_type":9,"to_id":2,"to_type":"kefu"}}', "不支持的消息类型"),
    ('{"event":"chat","data":{"msg":"   ","msg_type":1,"to_id":2,"to_type":"kefu"}}', "消息内容不能为空"),
    ('{"event":"chat","data":{"msg":"x","msg_type":1,"to_id":2,"to_type":"user"}}', "接收对象错误"),
    ('{"event":"chat","data":{"msg":"x","msg_type":1,"to_id":2,"to_type":"kefu","client_msg_id":""}}',
     "client_msg_id 须为 1-64 个字符"),
    ('{"event":"transfer","data":{"user_id":7,"kefu_id":3}}', "无权发送该事件"),   # a buyer may not transfer
])
async def test_user_bad_frames_get_error_frames(live, raw, expected):
    kefu, user = await start_conversation(live)
    await user.send_raw(raw)
    assert (await user.expect("error"))["msg"].startswith(expected)
    await still_serving(live, kefu, user)


async def test_kefu_wrong_role_and_forged_recipients(live):
    kefu, user = await start_conversation(live)
    await kefu.send("user_online", {"kefu_id": 2})
    assert (await kefu.expect("error"))["msg"] == "无权发送该事件"
    # a buyer who never talked to shop 1 (only to shop 2) is not reachable by shop 1's kefu
    other = await live.user(9, shop_id=2)
    await other.send("user_online", {"kefu_id": 4})
    await kefu.send("chat", {"msg": "hi", "msg_type": 1, "to_id": 9, "to_type": "user"})
    assert (await kefu.expect("error"))["msg"] == "用户不存在"
    await other.nothing()
    await kefu.send("chat", {"msg": "hi", "msg_type": 1, "to_id": "abc", "to_type": "user"})
    assert (await kefu.expect("error"))["msg"] == "用户不存在"
    assert await live.db.fetchval("SELECT count(*) FROM chat_record") == 0


async def test_user_cannot_reach_another_shops_kefu(live):
    kefu4 = await live.kefu(4)                      # shop 2's kefu
    user = await live.user(8, shop_id=1)
    await user.send("chat", {"msg": "hi", "msg_type": 1, "to_id": 4, "to_type": "kefu"})
    echo = await user.expect("chat")
    assert echo["to_id"] != 4 and echo["shop_id"] == 1   # the hint is ignored: shop 1's kefu owns it
    await kefu4.nothing()


async def test_image_never_uploaded_is_refused(live):
    kefu, user = await start_conversation(live)
    for path in ("uploads/user/8/20260101/0123456789abcdef0123456789abcdef.png",
                 "uploads/../../etc/passwd.png", "http://evil.example/x.png", "<img src=x>"):
        await user.send("chat", {"msg": path, "msg_type": 2, "to_id": 2, "to_type": "kefu"})
        assert (await user.expect("error"))["msg"] == "图片不存在或不属于你"
    await kefu.nothing()


async def test_goods_checks(live):
    kefu, user = await start_conversation(live)
    await user.send("chat", {"msg": 3, "msg_type": 3, "to_id": 2, "to_type": "kefu"})
    card = (await user.expect("chat"))["goods"]
    assert card == {"id": 3, "image": "uploads/demo/goods_03.png", "min_price": "31.90", "name": "Demo商品03"}
    assert (await kefu.expect("chat"))["goods"] == card
    for goods_id in (11, 13, 999999, "x"):       # off sale, another shop's, missing, not an id
        await user.send("chat", {"msg": goods_id, "msg_type": 3, "to_id": 2, "to_type": "kefu"})
        assert (await user.expect("error"))["msg"] == "商品不存在或已下架"


async def test_text_length_bound(live):
    kefu, user = await start_conversation(live)
    await user.send("chat", {"msg": "长" * (live.settings.max_text_length + 1), "msg_type": 1, "to_id": 2,
                             "to_type": "kefu"})
    assert (await user.expect("error"))["msg"] == "消息内容过长"


async def test_invalid_json_closes_1008(live):
    kefu, user = await start_conversation(live)
    await user.send_raw("{not json")
    code, frames = await user.closed()
    assert code == 1008 and frames[-1]["event"] == "error"
    assert (await kefu.expect("user_online"))["online"] == 0
    other = await live.user(7, shop_id=1)
    await still_serving(live, kefu, other)


async def test_binary_frame_closes_1008(live):
    kefu, user = await start_conversation(live)
    await user.ws.send_bytes(b"\x00\x01")
    code, _ = await user.closed()
    assert code == 1008


async def test_oversized_frame_closes_1009(live):
    kefu, user = await start_conversation(live)
    await user.send("chat", {"msg": "x" * (live.settings.max_frame_bytes + 10), "msg_type": 1, "to_id": 2,
                             "to_type": "kefu"})
    code, _ = await user.closed()
    assert code == 1009
    assert await live.db.fetchval("SELECT count(*) FROM chat_record") == 0


async def test_flood_closes_4008_and_loses_nothing_accepted(live):
    kefu, user = await start_conversation(live)
    frames = [f'{{"event":"chat","data":{{"msg":"f{i}","msg_type":1,"to_id":2,"to_type":"kefu"}}}}'
              for i in range(300)]
    for raw in frames:
        if user.ws.closed:
            break
        await user.send_raw(raw)
    code, received = await user.closed(timeout=10)
    assert code == 4008
    echoed = [f["data"]["msg"] for f in received if f["event"] == "chat"]
    stored = [r["msg"] for r in await live.db.fetch(
        "SELECT msg FROM chat_record WHERE user_id = 7 ORDER BY seq")]
    assert stored[:len(echoed)] == echoed           # everything echoed is stored, in order
    assert stored == [f"f{i}" for i in range(len(stored))]   # and what was stored has no gap


@pytest.mark.parametrize("setup_sql", [
    "UPDATE session SET expire_time = now() - interval '1 second' WHERE user_id = 7",     # expired
    "UPDATE \"user\" SET disable = 1 WHERE id = 7",                                         # disabled
    "UPDATE \"user\" SET del = 1 WHERE id = 7",                                             # deleted
])
async def test_user_tokens_refused(live, setup_sql):
    token = await live.user_token(7)
    await live.db.execute(setup_sql)
    sock = await live.connect(f"token={token}&type=user&client=6&shop_id=1", expect_login=False)
    code, frames = await sock.closed()
    assert code == 4001 and frames == [{"event": "error", "data": {"msg": "登录已失效，请重新登录", "msg_type": 1}}]


@pytest.mark.parametrize("setup_sql", [
    "UPDATE kefu_session SET expire_time = now() WHERE kefu_id = 2",        # logged out / expired
    "UPDATE kefu SET disable = 1 WHERE id = 2",
    "UPDATE kefu SET del = 1 WHERE id = 2",
    "UPDATE shop_admin SET disable = 1 WHERE id = 1",                      # its bound admin
])
async def test_kefu_tokens_refused(live, setup_sql):
    token = await live.kefu_token(2)
    await live.db.execute(setup_sql)
    sock = await live.connect(f"token={token}&type=kefu&client=5", expect_login=False)
    code, _ = await sock.closed()
    assert code == 4001


@pytest.mark.parametrize("query,code", [
    ("type=user&client=6&shop_id=1", 4001),                                   # no token
    ("token=abc&type=user&client=6&shop_id=1", 4001),                         # malformed token
    ("token={t}&type=admin&client=6&shop_id=1", 4003),                        # bad type
    ("token={t}&type=user&client=5&shop_id=1", 4003),                         # kefu client for a user
    ("token={t}&type=user&client=9&shop_id=1", 4003),
    ("token={t}&type=user&client=6&shop_id=999", 4003),                       # no such shop
    ("token={t}&type=user&client=6&shop_id=-1", 4003),
    ("token={t}&type=user&client=3&shop_id=1", 4001),                         # token is for client 6
])
async def test_handshake_refusals(live, query, code):
    token = await live.user_token(7)
    sock = await live.connect(query.format(t=token), expect_login=False)
    got, frames = await sock.closed()
    assert got == code and frames[0]["event"] == "error"


@pytest.mark.parametrize("where", ["data", "extra"])     # a value the frame reads, and one it skips
async def test_deeply_nested_frame_closes_1008_with_one_short_log_line(live, caplog, where):
    kefu, user = await start_conversation(live)
    caplog.set_level(logging.DEBUG)
    nested = "[" * 10_000 + "]" * 10_000
    await user.send_raw(f'{{"event":"ping","{where}":{nested}}}')
    code, frames = await user.closed()
    assert code == 1008 and frames[-1] == {"event": "error", "data": {"msg": "消息格式错误: 嵌套过深", "msg_type": 1}}
    assert (await kefu.expect("user_online"))["online"] == 0      # unregistered: the handler ended cleanly
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    about = [r for r in caplog.records if "嵌套过深" in r.getMessage()]
    assert len(about) == 1 and len(about[0].getMessage()) < 200
    await still_serving(live, kefu, await live.user(7, shop_id=1))
