"""The internal API the chat server calls (/internal/*): key check, user panel, orders, goods cards."""
import pytest

from tests.conftest import INTERNAL_KEY

KEY = {"X-Internal-Key": INTERNAL_KEY}
USER_INFO = "/internal/user/info"
ORDERS = "/internal/user/orders"
CARDS = "/internal/goods/cards"


async def get(commerce, path, headers=KEY, **params):
    resp = await commerce.get(path, params={k: str(v) for k, v in params.items()}, headers=headers)
    assert resp.status == 200
    return await resp.json()


# ------------------------------------------------------------------------------------------- key

DENIED = {"code": -1, "show": 0, "msg": "内部接口密钥无效", "data": []}


@pytest.mark.parametrize("headers", [
    {}, {"X-Internal-Key": ""}, {"X-Internal-Key": "wrong"}, {"X-Internal-Key": INTERNAL_KEY + "x"},
    {"X-Internal-Key": INTERNAL_KEY[:-1] + "X"}, {"X-Internal-Key": "密钥".encode().decode("latin-1")},
    {"token": INTERNAL_KEY},
])
async def test_a_wrong_or_missing_key_is_refused(commerce, headers):
    resp = await commerce.get(f"{USER_INFO}?user_id=1", headers=headers)
    assert resp.status == 200 and await resp.json() == DENIED


async def test_without_the_key_no_path_answers_anything_else(commerce):
    # not even an input error or a 404 that would tell a prober what exists
    for path in (f"{USER_INFO}?user_id=oops", f"{ORDERS}?user_id=1", f"{CARDS}?ids=1", f"{CARDS}?ids=",
                 "/internal/nothing/here"):
        resp = await commerce.get(path, headers={"X-Internal-Key": "wrong-key-0123456789"})
        assert resp.status == 200 and await resp.json() == DENIED, path


async def test_wrong_method_without_the_key_is_denied_too(commerce):
    resp = await commerce.post(USER_INFO, json={"user_id": 1})
    assert await resp.json() == DENIED


async def test_unknown_path_with_the_key_is_not_found(commerce):
    resp = await commerce.get("/internal/nothing/here", headers=KEY)
    assert resp.status == 404


# ------------------------------------------------------------------------------------- user info

async def test_user_panel(commerce, db):
    body = await get(commerce, USER_INFO, user_id=1)
    assert body["code"] == 1
    data = body["data"]
    assert set(data) == {"id", "sn", "nickname", "avatar", "level", "mobile", "total_order_amount", "birthday",
                         "client", "create_time", "level_name", "client_desc"}
    row = await db.fetchrow('SELECT * FROM "user" WHERE id = 1')
    assert (data["id"], data["sn"], data["nickname"], data["level"]) == (1, "10000001", "买家01", 2)
    assert data["mobile"] == "138****0001"
    assert data["avatar"] == "uploads/demo/user.png"            # relative: the chat's clients prefix it
    assert data["total_order_amount"] == f"{row['total_order_amount']:.2f}" != "0.00"
    assert data["birthday"] == row["birthday"].strftime("%Y-%m-%d")
    assert data["level_name"] == "黄金会员" and data["client"] == 6 and data["client_desc"] == "H5"


@pytest.mark.parametrize("client, desc", [
    (1, "微信小程序"), (2, "微信公众号"), (3, "iOS"), (4, "安卓"), (5, "PC商城"), (6, "H5"), (9, "")])
async def test_user_panel_client_desc(commerce, db, client, desc):
    await db.execute('UPDATE "user" SET client = $1 WHERE id = 4', client)
    data = (await get(commerce, USER_INFO, user_id=4))["data"]
    assert data["client"] == client and data["client_desc"] == desc


async def test_user_panel_null_birthday_mobile_and_time_zone(commerce, db):
    await db.execute("""UPDATE "user" SET birthday = NULL, mobile = NULL, disable = 1,
                        create_time = '2023-06-30 16:30:00+00' WHERE id = 6""")
    data = (await get(commerce, USER_INFO, user_id=6))["data"]
    # a disabled buyer is still shown to the kefu
    assert data["birthday"] == "" and data["mobile"] == "" and data["create_time"] == "2023-07-01 00:30:00"


@pytest.mark.parametrize("arrange, user_id", [(None, 999), ('UPDATE "user" SET del = 1 WHERE id = 2', 2)])
async def test_user_panel_unknown_user(commerce, db, arrange, user_id):
    if arrange:
        await db.execute(arrange)
    body = await get(commerce, USER_INFO, user_id=user_id)
    assert (body["code"], body["msg"]) == (0, "用户不存在")


@pytest.mark.parametrize("params, message", [
    ({}, "缺少参数 user_id"), ({"user_id": "a1"}, "user_id 必须是正整数"), ({"user_id": "0"}, "user_id 必须是正整数"),
])
async def test_user_panel_bad_input(commerce, params, message):
    body = await get(commerce, USER_INFO, **params)
    assert (body["code"], body["msg"]) == (0, message)


# ----------------------------------------------------------------------------------------- orders

async def test_orders_of_every_shop_for_the_platform(commerce):
    for params in ({}, {"shop_id": 0}):
        data = (await get(commerce, ORDERS, user_id=1, page_size=100, **params))["data"]
        assert data["count"] == 10 and {o["shop_id"] for o in data["list"]} == {1, 2}
        assert [o["id"] for o in data["list"]] == list(range(10, 0, -1))


async def test_orders_of_one_shop(commerce, db):
    data = (await get(commerce, ORDERS, user_id=2, shop_id=2, page_size=2))["data"]
    assert data["count"] == 5 and data["more"] == 1 and len(data["list"]) == 2
    order = data["list"][0]
    assert set(order) == {"id", "order_sn", "shop_id", "shop", "order_type", "order_type_text", "order_status",
                          "order_status_text", "order_amount", "total_num", "create_time", "order_goods"}
    assert order["shop"] == {"id": 2, "name": "Second Shop", "logo": "uploads/demo/shop_2.png"}
    assert await db.fetchval('SELECT user_id FROM "order" WHERE id = $1', order["id"]) == 2
    assert order["order_goods"] and order["order_goods"][0]["image"].startswith("uploads/demo/goods_")
    assert order["order_status_text"] in {"待付款", "待发货", "待收货", "已完成", "已关闭"}


async def test_orders_by_order_sn_prefix_or_exact(commerce, db):
    # user 1 owns D20260101000001 .. D20260101000010
    exact = (await get(commerce, ORDERS, user_id=1, order_sn="D20260101000001"))["data"]
    assert [o["order_sn"] for o in exact["list"]] == ["D20260101000001"]
    prefix = (await get(commerce, ORDERS, user_id=1, order_sn="D2026010100001"))["data"]
    assert [o["id"] for o in prefix["list"]] == [10]
    every = (await get(commerce, ORDERS, user_id=1, order_sn=" D2026 "))["data"]
    assert every["count"] == 10
    # a wildcard is just a character
    assert (await get(commerce, ORDERS, user_id=1, order_sn="D%"))["data"]["count"] == 0
    # another buyer's number does not leak into this buyer's list
    assert (await get(commerce, ORDERS, user_id=1, order_sn="D20260101000011"))["data"]["count"] == 0


async def test_orders_of_a_buyer_without_orders(commerce):
    data = (await get(commerce, ORDERS, user_id=15))["data"]
    assert data["list"] == [] and data["count"] == 0


@pytest.mark.parametrize("params, message", [
    ({}, "缺少参数 user_id"),
    ({"user_id": "x"}, "user_id 必须是正整数"),
    ({"user_id": "1", "shop_id": "-1"}, "shop_id 必须是非负整数"),
    ({"user_id": "1", "order_sn": "D" * 65}, "order_sn 不能超过64个字符"),
    ({"user_id": "1", "page_no": "-1"}, "page_no 必须是正整数"),
    ({"user_id": "1", "page_size": "many"}, "page_size 必须是正整数"),
])
async def test_orders_bad_input(commerce, params, message):
    body = await get(commerce, ORDERS, **params)
    assert body["code"] == 0 and message in body["msg"]


# ------------------------------------------------------------------------------------ goods cards

async def test_goods_cards_of_existing_ids(commerce, db):
    await db.execute("UPDATE goods SET del = 1 WHERE id = 2")
    body = await get(commerce, CARDS, ids="1,2, 12,13,999,1")
    assert body["code"] == 1
    data = body["data"]
    assert set(data) == {"1", "2", "12", "13"}
    assert data["1"] == {"id": 1, "name": "Demo商品01", "image": "uploads/demo/goods_01.png", "min_price": "11.90",
                         "shop_id": 1, "status": 1, "del": 0, "audit_status": 1}
    assert data["2"]["del"] == 1 and data["12"]["status"] == 0 and data["13"]["shop_id"] == 2


async def test_goods_cards_of_no_existing_id_is_an_empty_object(commerce):
    body = await get(commerce, CARDS, ids="998,999")
    assert body["code"] == 1 and body["data"] == {}


async def test_goods_cards_takes_up_to_100_ids(commerce):
    body = await get(commerce, CARDS, ids=",".join(str(i) for i in range(1, 101)))
    assert body["code"] == 1 and len(body["data"]) == 24
    too_many = await get(commerce, CARDS, ids=",".join(str(i) for i in range(1, 102)))
    assert (too_many["code"], too_many["msg"]) == (0, "ids 最多 100 个")


@pytest.mark.parametrize("params, message", [
    ({}, "缺少参数 ids"),
    ({"ids": ""}, "ids 必须是逗号分隔的商品 id，如 1,2,3"),
    ({"ids": "1,,2"}, "ids 必须是逗号分隔的商品 id，如 1,2,3"),
    ({"ids": "1,a"}, "ids 必须是逗号分隔的商品 id，如 1,2,3"),
    ({"ids": "1,-2"}, "ids 必须是逗号分隔的商品 id，如 1,2,3"),
    ({"ids": "0"}, "ids 必须是逗号分隔的商品 id，如 1,2,3"),
    ({"ids": "1,99999999999"}, "ids 必须是逗号分隔的商品 id，如 1,2,3"),
])
async def test_goods_cards_bad_ids(commerce, params, message):
    body = await get(commerce, CARDS, **params)
    assert (body["code"], body["msg"]) == (0, message)
