"""The kefu console's chat endpoints (spec §5.1): user list, history, online colleagues, quick
replies, own info and the console config; exact shapes, paging, shop isolation and bad input."""
import re

import pytest

from tests.chat_server.http_helpers import PAGE_KEYS, RECORD_KEYS, RELATION_KEYS, assert_int, get, say

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


# ------------------------------------------------------------------------------------- user list

async def test_user_list_has_my_conversations_online_first_then_latest(live):
    await say(live.db, 1, 7, 2, "<b>first</b>")
    await say(live.db, 1, 8, 2, "second")
    await say(live.db, 1, 9, 2, "third")
    await say(live.db, 1, 10, 3, "kefu 3's buyer")        # same shop, another owner
    await say(live.db, 2, 11, 4, "another shop")          # another shop
    await live.user(7, shop_id=1)                          # 7 online for shop 1 ...
    await live.user(9, shop_id=2)                          # ... 9 online, but for another shop
    token = await live.kefu_token(2)

    body = await get(live, "/kefuapi/chat/user", token)
    assert body["code"] == 1
    page = body["data"]
    assert set(page) == PAGE_KEYS and (page["page"], page["size"], page["count"], page["more"]) == (1, 15, 3, 0)
    assert [(r["user_id"], r["online"]) for r in page["list"]] == [(7, 1), (9, 0), (8, 0)]
    row = page["list"][0]
    assert set(row) == RELATION_KEYS
    assert_int(row["id"], row["shop_id"], row["user_id"], row["kefu_id"], row["client"], row["msg_type"],
               row["is_read"], row["unread"], row["last_seq"], row["online"])
    assert (row["shop_id"], row["kefu_id"], row["nickname"], row["avatar"], row["client"]) == (
        1, 2, "买家07", "uploads/demo/user.png", 6)
    assert row["msg"] == "&lt;b&gt;first&lt;/b&gt;" and row["msg_type"] == 1
    assert (row["is_read"], row["unread"], row["last_seq"]) == (0, 1, 1)
    assert TIME_RE.match(row["create_time"]) and TIME_RE.match(row["update_time"])

    other = (await get(live, "/kefuapi/chat/user", await live.kefu_token(3)))["data"]
    assert [r["user_id"] for r in other["list"]] == [10]
    shop2 = (await get(live, "/kefuapi/chat/user", await live.kefu_token(4)))["data"]
    assert [r["user_id"] for r in shop2["list"]] == [11]


async def test_user_list_nickname_filter_is_literal(live):
    for user_id in (7, 8, 18):
        await say(live.db, 1, user_id, 2, "hi")
    token = await live.kefu_token(2)
    names = lambda body: [r["nickname"] for r in body["data"]["list"]]  # noqa: E731
    assert names(await get(live, "/kefuapi/chat/user", token, nickname="买家08")) == ["买家08"]
    assert sorted(names(await get(live, "/kefuapi/chat/user", token, nickname="8"))) == ["买家08", "买家18"]
    # LIKE wildcards match only themselves
    assert (await get(live, "/kefuapi/chat/user", token, nickname="%"))["data"]["count"] == 0
    assert (await get(live, "/kefuapi/chat/user", token, nickname="买家_8"))["data"]["count"] == 0
    assert (await get(live, "/kefuapi/chat/user", token, nickname=""))["data"]["count"] == 3
    too_long = await get(live, "/kefuapi/chat/user", token, nickname="x" * 65)
    assert too_long["code"] == 0 and too_long["msg"] == "昵称不能超过 64 个字符"


async def test_user_list_paging(live):
    for user_id in range(1, 6):
        await say(live.db, 1, user_id, 2, "hi")
    token = await live.kefu_token(2)
    first = (await get(live, "/kefuapi/chat/user", token, page_size=2))["data"]
    last = (await get(live, "/kefuapi/chat/user", token, page_no=3, page_size=2))["data"]
    assert [r["user_id"] for r in first["list"]] == [5, 4] and (first["count"], first["more"]) == (5, 1)
    assert [r["user_id"] for r in last["list"]] == [1] and (last["page"], last["more"]) == (3, 0)
    huge = (await get(live, "/kefuapi/chat/user", token, page_size=10**9))["data"]
    assert huge["size"] == 100 and len(huge["list"]) == 5


async def test_a_transferred_user_leaves_the_old_kefus_list(live):
    old, new = await live.kefu(2), await live.kefu(3)
    user = await live.user(7, shop_id=1)
    await user.send("user_online", {"kefu_id": 2})
    await old.expect("user_online")
    await old.send("transfer", {"user_id": 7, "kefu_id": 3})
    assert await old.expect("transfer") == {"status": "send_success"}
    await new.expect("transfer")

    assert (await get(live, "/kefuapi/chat/user", await live.kefu_token(2)))["data"]["list"] == []
    rows = (await get(live, "/kefuapi/chat/user", await live.kefu_token(3)))["data"]["list"]
    assert [(r["user_id"], r["kefu_id"], r["online"]) for r in rows] == [(7, 3, 1)]


# --------------------------------------------------------------------------------------- history

async def test_record_pages_newest_first_each_oldest_to_newest(live):
    for n in range(1, 26):
        await say(live.db, 1, 7, 2, f"m{n} <i>", from_user=n % 2 == 1)
    await say(live.db, 1, 7, 3, "客服(Demo客服B)为您服务", from_user=False, notice=True)
    token = await live.kefu_token(2)

    first = await get(live, "/kefuapi/chat/record", token, user_id=7, page_size=10)
    assert first["code"] == 1
    page = first["data"]
    assert set(page) == PAGE_KEYS and (page["page"], page["size"], page["count"], page["more"]) == (1, 10, 26, 1)
    assert [r["seq"] for r in page["list"]] == list(range(17, 27))
    notice = page["list"][-1]
    assert (notice["type"], notice["from_type"], notice["from_id"], notice["from_nickname"]) == (
        2, "kefu", 3, "Demo客服B")
    rec = page["list"][0]       # seq 17, m17 from the buyer
    assert set(rec) == RECORD_KEYS
    assert_int(rec["id"], rec["shop_id"], rec["user_id"], rec["seq"], rec["from_id"], rec["to_id"], rec["msg_type"],
               rec["is_read"], rec["type"], rec["create_time_stamp"])
    assert (rec["shop_id"], rec["user_id"], rec["from_id"], rec["from_type"], rec["to_id"], rec["to_type"]) == (
        1, 7, 7, "user", 2, "kefu")
    assert rec["msg"] == "m17 &lt;i&gt;" and rec["goods"] == [] and rec["type"] == 1
    assert (rec["from_nickname"], rec["from_avatar"]) == ("买家07", "uploads/demo/user.png")
    reply = page["list"][1]
    assert (reply["from_type"], reply["from_nickname"], reply["from_avatar"]) == ("kefu", "Demo客服A",
                                                                                  "uploads/demo/kefu_2.png")
    assert TIME_RE.match(rec["create_time"]) and TIME_RE.match(rec["update_time"])

    last = (await get(live, "/kefuapi/chat/record", token, user_id="7", page_no=3, page_size=10))["data"]
    assert [r["seq"] for r in last["list"]] == list(range(1, 7)) and last["more"] == 0
    beyond = (await get(live, "/kefuapi/chat/record", token, user_id=7, page_no=4, page_size=10))["data"]
    assert beyond["list"] == [] and beyond["count"] == 26
    # every kefu of the shop may read the shop's conversations
    assert (await get(live, "/kefuapi/chat/record", await live.kefu_token(3), user_id=7))["data"]["count"] == 26


async def test_record_is_only_for_buyers_of_my_shop(live):
    await say(live.db, 1, 7, 2, "shop 1")
    await say(live.db, 2, 11, 4, "shop 2 secret")
    token = await live.kefu_token(2)
    for params in ({"user_id": 11}, {"user_id": 11, "shop_id": 2}, {"user_id": 12}):
        assert await get(live, "/kefuapi/chat/record", token, **params) == {
            "code": 0, "show": 1, "msg": "用户不存在", "data": []}
    # the platform's conversations are the platform kefu's alone
    await say(live.db, 0, 12, 1, "platform")
    assert (await get(live, "/kefuapi/chat/record", token, user_id=12))["code"] == 0
    assert (await get(live, "/kefuapi/chat/record", await live.kefu_token(1), user_id=12))["data"]["count"] == 1
    assert (await get(live, "/kefuapi/chat/record", await live.kefu_token(1), user_id=7))["code"] == 0


@pytest.mark.parametrize("params, msg", [
    ({}, "缺少参数 user_id"),
    ({"user_id": "abc"}, "user_id 必须是正整数"),
    ({"user_id": "0"}, "user_id 必须是正整数"),
    ({"user_id": "-7"}, "user_id 必须是正整数"),
    ({"user_id": "7.5"}, "user_id 必须是正整数"),
    ({"user_id": "99999999999"}, "user_id 必须是正整数"),
    ({"user_id": "7", "page_no": "abc"}, "page_no 必须是正整数"),
    ({"user_id": "7", "page_size": "x"}, "page_size 必须是正整数"),
])
async def test_record_bad_input(live, params, msg):
    await say(live.db, 1, 7, 2, "hi")
    assert await get(live, "/kefuapi/chat/record", await live.kefu_token(2), **params) == {
        "code": 0, "show": 1, "msg": msg, "data": []}


async def test_negative_or_zero_paging_is_refused_and_huge_page_size_capped(live):
    await say(live.db, 1, 7, 2, "hi")
    token = await live.kefu_token(2)
    for params, message in (({"page_no": -1}, "page_no 必须是正整数"), ({"page_no": 0}, "page_no 必须是正整数"),
                            ({"page_no": 100_001}, "page_no 不能超过 100000"),
                            ({"page_size": 0}, "page_size 必须是正整数"), ({"page_size": -5}, "page_size 必须是正整数")):
        body = await get(live, "/kefuapi/chat/record", token, user_id=7, **params)
        assert (body["code"], body["msg"]) == (0, message), body
    capped = await get(live, "/kefuapi/chat/record", token, user_id=7, page_size=5000)
    assert capped["data"]["size"] == 100 and capped["data"]["count"] == 1


# ---------------------------------------------------------------------------------- online kefu

async def test_online_lists_the_other_usable_online_kefu_of_my_shop(live):
    token = await live.kefu_token(2)
    assert await get(live, "/kefuapi/chat/online", token) == {"code": 1, "show": 0, "msg": "", "data": []}
    await live.kefu(3)
    await live.kefu(4)        # another shop
    await live.kefu(1)        # the platform
    await live.connect(f"token={token}&type=kefu&client=5")     # myself
    assert (await get(live, "/kefuapi/chat/online", token))["data"] == [
        {"id": 3, "nickname": "Demo客服B", "avatar": live.settings.public_base_url + "uploads/demo/kefu_3.png"}]
    assert (await get(live, "/kefuapi/chat/online", await live.kefu_token(4)))["data"] == []
    # an avatar never set stays empty (not a bare base_domain)
    await live.db.execute("UPDATE kefu SET avatar = '' WHERE id = 3")
    assert (await get(live, "/kefuapi/chat/online", token))["data"][0]["avatar"] == ""
    # disabled while connected: no longer a transfer target
    await live.db.execute("UPDATE kefu SET disable = 1 WHERE id = 3")
    assert (await get(live, "/kefuapi/chat/online", token))["data"] == []


# -------------------------------------------------------------------------------- quick replies

async def test_replies_of_my_shop_by_sort_with_keyword(live):
    token = await live.kefu_token(2)
    body = await get(live, "/kefuapi/chat/reply", token)
    assert body["code"] == 1
    page = body["data"]
    assert [r["title"] for r in page["list"]] == ["问候", "发货时间", "退换货", "结束语"]
    assert (page["count"], page["more"]) == (4, 0)
    row = page["list"][0]
    assert set(row) == {"id", "shop_id", "title", "content", "sort", "create_time", "update_time"}
    assert_int(row["id"], row["shop_id"], row["sort"])
    assert row["shop_id"] == 1 and row["content"] == "您好，欢迎光临 Demo Shop，请问有什么可以帮您？"
    assert TIME_RE.match(row["create_time"])

    await live.db.execute("UPDATE kefu_lang SET sort = 0 WHERE shop_id = 1 AND title = '结束语'")
    assert [r["title"] for r in (await get(live, "/kefuapi/chat/reply", token))["data"]["list"]][:2] == ["结束语", "问候"]
    assert [r["title"] for r in (await get(live, "/kefuapi/chat/reply", token, keyword="发货"))["data"]["list"]] == [
        "发货时间"]
    assert [r["title"] for r in (await get(live, "/kefuapi/chat/reply", token, keyword="七天"))["data"]["list"]] == [
        "退换货"]
    await live.db.execute("INSERT INTO kefu_lang (shop_id, title, content) VALUES (1, '满意', '100%满意')")
    assert [r["title"] for r in (await get(live, "/kefuapi/chat/reply", token, keyword="%"))["data"]["list"]] == ["满意"]
    assert (await get(live, "/kefuapi/chat/reply", token, keyword="_"))["data"]["count"] == 0
    paged = (await get(live, "/kefuapi/chat/reply", token, page_size=2, page_no=2))["data"]
    assert (paged["page"], paged["size"], paged["count"], paged["more"], len(paged["list"])) == (2, 2, 5, 1, 2)


async def test_replies_never_cross_shops(live):
    shop2 = (await get(live, "/kefuapi/chat/reply", await live.kefu_token(4), shop_id=1))["data"]
    assert {r["shop_id"] for r in shop2["list"]} == {2} and shop2["count"] == 3
    platform = (await get(live, "/kefuapi/chat/reply", await live.kefu_token(1)))["data"]
    assert {r["shop_id"] for r in platform["list"]} == {0} and platform["count"] == 3
    assert (await get(live, "/kefuapi/chat/reply", await live.kefu_token(2), keyword="Second"))["data"]["count"] == 0


# ------------------------------------------------------------------------------ kefu info, config

async def test_kefu_info_shape_and_online_flag(live):
    token = await live.kefu_token(4)
    expected = {"id": 4, "shop_id": 2, "nickname": "Second客服",
                "avatar": live.settings.public_base_url + "uploads/demo/kefu_4.png", "online": 0}
    assert await get(live, "/kefuapi/chat/kefuInfo", token) == {"code": 1, "show": 0, "msg": "", "data": expected}
    sock = await live.kefu(4)
    assert (await get(live, "/kefuapi/chat/kefuinfo", await live.kefu_token(4)))["data"] == {**expected, "online": 1}
    await sock.close()
    assert (await get(live, "/KEFUAPI/chat/KefuInfo", await live.kefu_token(4)))["data"]["online"] == 0
    await live.db.execute("UPDATE kefu SET avatar = '' WHERE id = 4")
    assert (await get(live, "/kefuapi/chat/kefuInfo", await live.kefu_token(4)))["data"]["avatar"] == ""


async def test_config_needs_no_login(live):
    expected = {"base_domain": live.settings.public_base_url,
                "web_favicon": live.settings.public_base_url + "uploads/demo/favicon.png",
                "company_name": "演示商城", "ws_domain": live.settings.public_ws_url}
    assert await get(live, "/kefuapi/chat/config") == {"code": 1, "show": 0, "msg": "", "data": expected}
    assert expected["base_domain"].endswith("/") and expected["ws_domain"].startswith("ws")
    await live.db.execute("DELETE FROM config WHERE type = 'website'")
    assert (await get(live, "/kefuapi/chat/config"))["data"] == {**expected, "web_favicon": "", "company_name": ""}


async def test_preflight_and_cors_on_kefuapi(live):
    resp = await live.client.options("/kefuapi/chat/userInfo", headers={
        "Origin": "http://console.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "token"})
    assert resp.status == 200 and await resp.read() == b""
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "token" in resp.headers["Access-Control-Allow-Headers"]
    resp = await live.client.get("/kefuapi/chat/config", headers={"Origin": "http://console.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
