"""The buyer chat page's calls on the chat server (spec §5.2): /api/user/chatRecord and
/api/index/chatConfig."""
import pytest

from tests.chat_server.http_helpers import PAGE_KEYS, RECORD_KEYS, assert_int, get, say

EMPTY_PAGE = {"list": [], "page": 1, "size": 15, "count": 0, "more": 0}
NOBODY = "当前客服不在线,有问题请联系人工客服"


# ------------------------------------------------------------------------------------ chatRecord

async def test_chat_record_without_a_conversation(live):
    body = await get(live, "/api/user/chatRecord", await live.user_token(7), shop_id=1)
    assert body == {"code": 1, "show": 0, "msg": "", "data": {"config": 2, "kefu": [], "record": EMPTY_PAGE}}


async def test_chat_record_has_the_owner_and_my_history_with_notices(live):
    for n in range(1, 18):
        await say(live.db, 1, 7, 2, f"m{n} & <x>", from_user=n % 3 != 0)
    await say(live.db, 1, 7, 3, "客服(Demo客服B)为您服务", from_user=False, notice=True)
    await live.db.execute("UPDATE chat_relation SET kefu_id = 3 WHERE shop_id = 1 AND user_id = 7")
    await say(live.db, 1, 8, 2, "someone else's")
    token = await live.user_token(7, client=1)      # any buyer client

    body = await get(live, "/api/user/chatRecord", token, shop_id=1, page_size=10)
    assert body["code"] == 1, body
    data = body["data"]
    assert set(data) == {"config", "kefu", "record"}
    assert data["config"] == 2
    assert data["kefu"] == {"id": 3, "nickname": "Demo客服B", "avatar": "uploads/demo/kefu_3.png"}
    page = data["record"]
    assert set(page) == PAGE_KEYS and (page["page"], page["size"], page["count"], page["more"]) == (1, 10, 18, 1)
    assert [r["seq"] for r in page["list"]] == list(range(9, 19))
    assert {r["user_id"] for r in page["list"]} == {7}
    notice = page["list"][-1]
    assert set(notice) == RECORD_KEYS
    assert (notice["type"], notice["msg"], notice["from_id"], notice["from_type"], notice["to_id"]) == (
        2, "客服(Demo客服B)为您服务", 3, "kefu", 7)
    first = page["list"][0]     # seq 9: from the kefu
    assert (first["msg"], first["from_type"], first["from_nickname"]) == ("m9 &amp; &lt;x&gt;", "kefu", "Demo客服A")
    assert_int(first["id"], first["seq"], first["shop_id"], first["from_id"], first["to_id"], first["msg_type"],
               first["is_read"], first["type"], first["create_time_stamp"])
    second = (await get(live, "/api/user/chatRecord", token, shop_id="1", page_no=2, page_size=10))["data"]["record"]
    assert [r["seq"] for r in second["list"]] == list(range(1, 9)) and second["more"] == 0


async def test_chat_record_is_only_my_own_conversation_with_that_shop(live):
    await say(live.db, 1, 7, 2, "user 7 and shop 1")
    await say(live.db, 2, 8, 4, "user 8 and shop 2")
    token = await live.user_token(8)
    # shop 1: user 8 has nothing there, whatever user_id it claims
    mine_in_shop1 = await get(live, "/api/user/chatRecord", token, shop_id=1, user_id=7)
    assert mine_in_shop1["data"] == {"config": 2, "kefu": [], "record": EMPTY_PAGE}
    shop2 = (await get(live, "/api/user/chatRecord", token, shop_id=2))["data"]
    assert shop2["kefu"]["id"] == 4 and [r["msg"] for r in shop2["record"]["list"]] == ["user 8 and shop 2"]
    # absent shop_id is the platform
    platform = (await get(live, "/api/user/chatRecord", token))["data"]
    assert platform == {"config": 2, "kefu": [], "record": EMPTY_PAGE}
    await say(live.db, 0, 8, 1, "platform")
    assert (await get(live, "/api/user/chatRecord", token, shop_id=0))["data"]["kefu"]["nickname"] == "平台客服"


async def test_chat_record_config_follows_the_shop_mode(live):
    token = await live.user_token(7)
    await live.db.execute("UPDATE config SET value = '1' WHERE shop_id = 1 AND type = 'kefu' AND name = 'mode'")
    assert (await get(live, "/api/user/chatRecord", token, shop_id=1))["data"]["config"] == 1
    assert (await get(live, "/api/user/chatRecord", token, shop_id=2))["data"]["config"] == 2
    await live.db.execute("DELETE FROM config WHERE shop_id = 2 AND type = 'kefu'")
    assert (await get(live, "/api/user/chatRecord", token, shop_id=2))["data"]["config"] == 2


async def test_chat_record_owner_deleted_since(live):
    await say(live.db, 1, 7, 2, "hi")
    await live.db.execute("UPDATE kefu SET del = 1 WHERE id = 2")
    data = (await get(live, "/api/user/chatRecord", await live.user_token(7), shop_id=1))["data"]
    assert data["kefu"] == [] and data["record"]["count"] == 1


@pytest.mark.parametrize("params, msg", [
    ({"shop_id": 99}, "店铺不存在"),
    ({"shop_id": "abc"}, "shop_id 必须是非负整数"),
    ({"shop_id": "-1"}, "shop_id 必须是非负整数"),
    ({"shop_id": "1", "page_no": "x"}, "page_no 必须是正整数"),
])
async def test_chat_record_bad_input(live, params, msg):
    assert await get(live, "/api/user/chatRecord", await live.user_token(7), **params) == {
        "code": 0, "show": 1, "msg": msg, "data": []}


async def test_chat_record_of_a_deleted_shop(live):
    await live.db.execute("UPDATE shop SET del = 1 WHERE id = 2")
    assert (await get(live, "/api/user/chatRecord", await live.user_token(7), shop_id=2))["msg"] == "店铺不存在"


async def test_chat_record_needs_a_live_buyer_token(live):
    await say(live.db, 1, 7, 2, "hi")
    kefu = await live.kefu_token(2)
    expired = await live.user_token(8)
    await live.db.execute("UPDATE session SET expire_time = now() - interval '1 second' WHERE token = $1", expired)
    disabled = await live.user_token(9)
    await live.db.execute('UPDATE "user" SET disable = 1 WHERE id = 9')
    deleted = await live.user_token(10)
    await live.db.execute('UPDATE "user" SET del = 1 WHERE id = 10')
    for token in (None, "garbage", "0123456789abcdef0123456789abcdef", kefu, expired, disabled, deleted):
        body = await get(live, "/api/user/chatRecord", token, shop_id=1)
        assert body["code"] == -1 and body["data"] == [], (token, body)


# ------------------------------------------------------------------------------------ chatConfig

async def test_chat_config_is_usable_with_a_kefu_online_or_not(live):
    ok = {"code": 1, "show": 0, "msg": "", "data": []}
    assert await get(live, "/api/index/chatConfig", shop_id=1) == ok      # nobody online: offline messages
    await live.kefu(2)
    assert await get(live, "/api/index/chatconfig", shop_id="1") == ok
    assert await get(live, "/api/index/chatConfig", shop_id=0) == ok
    assert await get(live, "/api/index/chatConfig") == ok                  # absent: the platform


async def test_chat_config_manual_mode_is_code_0_with_an_empty_message(live):
    await live.db.execute("UPDATE config SET value = '1' WHERE shop_id = 2 AND type = 'kefu' AND name = 'mode'")
    body = await get(live, "/api/index/chatConfig", shop_id=2)
    assert body["code"] == 0 and body["msg"] == "" and body["data"] == []
    assert (await get(live, "/api/index/chatConfig", shop_id=1))["code"] == 1


async def test_chat_config_without_any_usable_kefu(live):
    await live.kefu(4)
    await live.db.execute("UPDATE kefu SET disable = 1 WHERE id = 4")       # connected, but disabled
    assert await get(live, "/api/index/chatConfig", shop_id=2) == {"code": 0, "show": 1, "msg": NOBODY, "data": []}
    await live.db.execute("ALTER TABLE shop_admin DISABLE TRIGGER shop_admin_revokes_kefu")
    await live.db.execute("UPDATE shop_admin SET disable = 1 WHERE shop_id = 1")   # kefu 2 and 3's accounts
    assert (await get(live, "/api/index/chatConfig", shop_id=1))["msg"] == NOBODY
    await live.db.execute("UPDATE kefu SET del = 1 WHERE id = 1")
    assert (await get(live, "/api/index/chatConfig", shop_id=0))["msg"] == NOBODY


@pytest.mark.parametrize("params, msg", [
    ({"shop_id": 99}, "店铺不存在"), ({"shop_id": "x"}, "shop_id 必须是非负整数"),
    ({"shop_id": "1.0"}, "shop_id 必须是非负整数")])
async def test_chat_config_bad_input(live, params, msg):
    assert await get(live, "/api/index/chatConfig", **params) == {"code": 0, "show": 1, "msg": msg, "data": []}
