"""The kefu console's buyer panels served through the commerce API (spec §5.1 用户信息, 订单列表):
shapes, shop scoping, and a commerce API that is down or never answers (a quick code 0 while
chat keeps working)."""
import asyncio
import socket
import time

import pytest

from tests.chat_server.http_helpers import PAGE_KEYS, assert_int, get, say

USER_INFO_KEYS = {"id", "sn", "nickname", "avatar", "level", "mobile", "total_order_amount", "birthday", "client",
                  "create_time", "level_name", "client_desc"}


# ------------------------------------------------------------------------------------- user info

async def test_user_info_is_the_panel_of_a_buyer_of_my_shop(live):
    await say(live.db, 1, 7, 2, "hi")
    body = await get(live, "/kefuapi/chat/userInfo", await live.kefu_token(2), user_id=7)
    assert body["code"] == 1, body
    info = body["data"]
    assert set(info) == USER_INFO_KEYS
    assert_int(info["id"], info["level"], info["client"])
    assert {k: info[k] for k in USER_INFO_KEYS - {"create_time"}} == {
        "id": 7, "sn": "10000007", "nickname": "买家07", "avatar": live.settings.public_base_url + "uploads/demo/user.png",
        "level": 1,
        "mobile": "138****0007", "total_order_amount": "0.00", "birthday": "1997-08-08", "client": 6,
        "level_name": "普通会员", "client_desc": "H5"}
    assert len(info["create_time"]) == 19
    await live.db.execute('UPDATE "user" SET avatar = \'\' WHERE id = 7')
    assert (await get(live, "/kefuapi/chat/userInfo", await live.kefu_token(2), user_id=7))["data"]["avatar"] == ""


async def test_user_info_never_crosses_shops(live):
    await say(live.db, 2, 11, 4, "shop 2 only")
    token = await live.kefu_token(2)
    for params in ({"user_id": 11}, {"user_id": 11, "shop_id": 2}, {"user_id": 1}):
        assert await get(live, "/kefuapi/chat/userInfo", token, **params) == {
            "code": 0, "show": 1, "msg": "用户不存在", "data": []}
    assert (await get(live, "/kefuapi/chat/userInfo", await live.kefu_token(4), user_id=11))["data"]["id"] == 11
    # the platform kefu too only sees buyers who talk to the platform
    assert (await get(live, "/kefuapi/chat/userInfo", await live.kefu_token(1), user_id=11))["code"] == 0


@pytest.mark.parametrize("params, msg", [
    ({}, "缺少参数 user_id"), ({"user_id": "x"}, "user_id 必须是正整数"), ({"user_id": "1e3"}, "user_id 必须是正整数")])
async def test_user_info_bad_input(live, params, msg):
    assert (await get(live, "/kefuapi/chat/userInfo", await live.kefu_token(2), **params))["msg"] == msg


async def test_user_info_of_a_buyer_deleted_since(live):
    await say(live.db, 1, 7, 2, "hi")
    await live.db.execute('UPDATE "user" SET del = 1 WHERE id = 7')
    assert await get(live, "/kefuapi/chat/userInfo", await live.kefu_token(2), user_id=7) == {
        "code": 0, "show": 1, "msg": "用户不存在", "data": []}


# ----------------------------------------------------------------------------------------- orders

async def test_orders_of_a_buyer_in_my_shop_only(live):
    await say(live.db, 1, 1, 2, "about my order")
    token = await live.kefu_token(2)
    body = await get(live, "/kefuapi/chat/order", token, user_id=1)
    assert body["code"] == 1, body
    page = body["data"]
    assert set(page) == PAGE_KEYS and (page["page"], page["size"], page["count"], page["more"]) == (1, 15, 5, 0)
    expected_sns = await live.db.fetch('SELECT order_sn FROM "order" WHERE user_id = 1 AND shop_id = 1')
    assert {o["order_sn"] for o in page["list"]} == {r["order_sn"] for r in expected_sns}
    assert {o["shop_id"] for o in page["list"]} == {1}
    order = page["list"][0]
    assert {"id", "order_sn", "order_status", "order_status_text", "order_type", "order_type_text",
            "order_goods"} <= set(order)
    assert_int(order["id"], order["order_status"], order["order_type"])
    texts = {0: "待付款", 1: "待发货", 2: "待收货", 3: "已完成", 4: "已关闭"}
    assert {o["order_status"]: o["order_status_text"] for o in page["list"]} == texts
    # the console puts these into <img> as they are: absolute, as the original's were
    base = live.settings.public_base_url
    stored = {r["image"] for r in await live.db.fetch("SELECT image FROM order_goods")}
    assert all(o["order_goods"] for o in page["list"])
    assert {line["image"] for o in page["list"] for line in o["order_goods"]} <= {base + s for s in stored if s}
    logo = await live.db.fetchval("SELECT logo FROM shop WHERE id = 1")
    assert logo and {o["shop"]["logo"] for o in page["list"]} == {base + logo}
    await live.db.execute("UPDATE shop SET logo = '' WHERE id = 1")
    await live.db.execute("UPDATE order_goods SET image = ''")
    emptied = (await get(live, "/kefuapi/chat/order", token, user_id=1))["data"]["list"]
    assert {o["shop"]["logo"] for o in emptied} == {""}
    assert {line["image"] for o in emptied for line in o["order_goods"]} == {""}

    # a forged shop_id changes nothing
    forged = (await get(live, "/kefuapi/chat/order", token, user_id=1, shop_id=2))["data"]
    assert {o["shop_id"] for o in forged["list"]} == {1}
    paged = (await get(live, "/kefuapi/chat/order", token, user_id=1, page_no=2, page_size=2))["data"]
    assert (paged["page"], paged["size"], paged["count"], paged["more"], len(paged["list"])) == (2, 2, 5, 1, 2)


async def test_orders_by_order_sn_within_my_shop(live):
    await say(live.db, 1, 1, 2, "hi")
    first_sn = 'SELECT order_sn FROM "order" WHERE user_id = 1 AND shop_id = $1 ORDER BY id LIMIT 1'
    mine, theirs = await live.db.fetchval(first_sn, 1), await live.db.fetchval(first_sn, 2)
    token = await live.kefu_token(2)
    found = (await get(live, "/kefuapi/chat/order", token, user_id=1, order_sn=mine))["data"]
    assert [o["order_sn"] for o in found["list"]] == [mine]
    assert (await get(live, "/kefuapi/chat/order", token, user_id=1, order_sn=theirs))["data"]["count"] == 0
    assert (await get(live, "/kefuapi/chat/order", token, user_id=1, order_sn="x" * 65))["msg"] == \
        "订单编号不能超过 64 个字符"


async def test_orders_never_cross_shops_and_the_platform_kefu_sees_all_shops(live):
    await say(live.db, 2, 1, 4, "shop 2")
    assert await get(live, "/kefuapi/chat/order", await live.kefu_token(2), user_id=1) == {
        "code": 0, "show": 1, "msg": "用户不存在", "data": []}
    shop2 = (await get(live, "/kefuapi/chat/order", await live.kefu_token(4), user_id=1))["data"]
    assert shop2["count"] == 5 and {o["shop_id"] for o in shop2["list"]} == {2}
    assert (await get(live, "/kefuapi/chat/order", await live.kefu_token(1), user_id=1))["code"] == 0
    await say(live.db, 0, 1, 1, "platform")
    everything = (await get(live, "/kefuapi/chat/order", await live.kefu_token(1), user_id=1))["data"]
    assert everything["count"] == 10 and {o["shop_id"] for o in everything["list"]} == {1, 2}


# ------------------------------------------------------------------------ commerce API unavailable

def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def silent_server():
    """A TCP server that accepts and then never answers."""
    release = asyncio.Event()

    async def hold(reader, writer):
        await release.wait()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    release.set()
    server.close()
    await server.wait_closed()


async def _timed(live, path: str, token: str, **params) -> tuple[dict, float]:
    started = time.monotonic()
    body = await get(live, path, token, **params)
    return body, time.monotonic() - started


async def test_commerce_down_answers_quickly(node):
    live = await node(COMMERCE_URL=f"http://127.0.0.1:{free_port()}", COMMERCE_TIMEOUT_MS="500")
    await say(live.db, 1, 7, 2, "hi")
    token = await live.kefu_token(2)
    body, took = await _timed(live, "/kefuapi/chat/userInfo", token, user_id=7)
    assert body == {"code": 0, "show": 1, "msg": "用户信息获取失败，请稍后再试", "data": []}
    assert took < 0.5 + 1.0
    body, took = await _timed(live, "/kefuapi/chat/order", token, user_id=7)
    assert body == {"code": 0, "show": 1, "msg": "订单信息获取失败，请稍后再试", "data": []}
    assert took < 0.5 + 1.0


async def test_commerce_silent_answers_within_the_timeout_and_chat_keeps_working(node, silent_server):
    live = await node(COMMERCE_URL=silent_server, COMMERCE_TIMEOUT_MS="1500")
    kefu = await live.kefu(2)
    user = await live.user(7, shop_id=1)
    await user.send("user_online", {"kefu_id": 2})
    await kefu.expect("user_online")

    token = await live.kefu_token(2)
    pending = asyncio.ensure_future(_timed(live, "/kefuapi/chat/userInfo", token, user_id=7))
    orders = asyncio.ensure_future(_timed(live, "/kefuapi/chat/order", token, user_id=7))
    await asyncio.sleep(0.1)
    sent = time.monotonic()
    await user.send("chat", {"msg": "still there?", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    assert (await kefu.expect("chat", timeout=2))["msg"] == "still there?"
    assert (await user.expect("chat", timeout=2))["msg"] == "still there?"      # the echo
    await kefu.send("chat", {"msg": "yes", "msg_type": 1, "to_id": 7, "to_type": "user"})
    assert (await user.expect("chat", timeout=2))["msg"] == "yes"
    # chat did not wait for the commerce API: both messages went through while it still hangs
    assert time.monotonic() - sent < 1.0 and not pending.done() and not orders.done()

    body, took = await pending
    assert body == {"code": 0, "show": 1, "msg": "用户信息获取失败，请稍后再试", "data": []}
    assert 1.4 <= took < 1.5 + 1.0
    body, took = await orders
    assert body["msg"] == "订单信息获取失败，请稍后再试" and took < 1.5 + 1.0
