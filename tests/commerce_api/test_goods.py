"""Goods for buyers: /api/goods/getGoodsDetail and /api/goods/getGoodsList (no login needed)."""
import pytest

DETAIL = "/api/goods/getGoodsDetail"
LIST = "/api/goods/getGoodsList"


async def get(commerce, path, **params):
    resp = await commerce.get(path, params={k: str(v) for k, v in params.items()})
    assert resp.status == 200
    return await resp.json()


# ----------------------------------------------------------------------------------------- detail

async def test_detail_of_goods_on_sale(commerce, db, settings):
    body = await get(commerce, DETAIL, goods_id=13)
    assert body["code"] == 1
    data = body["data"]
    assert set(data) == {"id", "name", "image", "min_price", "max_price", "market_price", "stock", "remark",
                         "content", "shop_id", "status", "shop"}
    row = await db.fetchrow("SELECT * FROM goods WHERE id = 13")
    assert data["id"] == 13 and data["name"] == row["name"] == "Second商品01"
    assert data["min_price"] == f"{row['min_price']:.2f}" and data["max_price"] == f"{row['max_price']:.2f}"
    assert data["market_price"] == f"{row['market_price']:.2f}"
    assert (data["stock"], data["remark"], data["content"]) == (row["stock"], row["remark"], row["content"])
    assert data["shop_id"] == 2 and data["status"] == 1
    assert data["image"] == settings.public_base_url + "uploads/demo/goods_13.png"
    assert data["shop"] == {"id": 2, "name": "Second Shop", "logo": settings.public_base_url + "uploads/demo/shop_2.png"}


async def test_detail_accepts_a_lower_case_action(commerce):
    assert (await get(commerce, DETAIL.lower(), goods_id=1))["data"]["id"] == 1


@pytest.mark.parametrize("arrange, goods_id, message", [
    (None, 11, "商品已下架"),                                             # demo: 11, 12 are off sale
    (None, 999, "商品不存在"),
    ("UPDATE goods SET del = 1 WHERE id = 1", 1, "商品不存在"),
    ("UPDATE goods SET audit_status = 0 WHERE id = 1", 1, "商品不存在"),
    ("UPDATE shop SET del = 1 WHERE id = 1", 1, "商品不存在"),
    ("UPDATE shop SET is_freeze = 1 WHERE id = 1", 1, "商品已下架"),
])
async def test_detail_refuses_what_a_buyer_may_not_see(commerce, db, arrange, goods_id, message):
    if arrange:
        await db.execute(arrange)
    body = await get(commerce, DETAIL, goods_id=goods_id)
    assert (body["code"], body["msg"], body["data"]) == (0, message, [])


@pytest.mark.parametrize("params, message", [
    ({}, "缺少参数 goods_id"),
    ({"goods_id": ""}, "goods_id 必须是正整数"),
    ({"goods_id": "abc"}, "goods_id 必须是正整数"),
    ({"goods_id": "-1"}, "goods_id 必须是正整数"),
    ({"goods_id": "0"}, "goods_id 必须是正整数"),
    ({"goods_id": "1.5"}, "goods_id 必须是正整数"),
    ({"goods_id": "99999999999"}, "goods_id 必须是正整数"),
    ({"goods_id": "٣"}, "goods_id 必须是正整数"),
])
async def test_detail_bad_input(commerce, params, message):
    body = await get(commerce, DETAIL, **params)
    assert (body["code"], body["msg"]) == (0, message)


# ------------------------------------------------------------------------------------------- list

async def test_list_of_one_shop_pages_in_sort_order(commerce, settings):
    first = (await get(commerce, LIST, shop_id=1, page_size=4))["data"]
    assert (first["count"], first["page"], first["size"], first["more"]) == (10, 1, 4, 1)
    # demo sort is 12 - n: goods 1 first
    assert [g["id"] for g in first["list"]] == [1, 2, 3, 4]
    assert set(first["list"][0]) == {"id", "name", "image", "min_price", "max_price", "market_price", "stock",
                                     "sales", "shop_id"}
    assert first["list"][0]["image"] == settings.public_base_url + "uploads/demo/goods_01.png"
    last = (await get(commerce, LIST, shop_id=1, page_size=4, page_no=3))["data"]
    assert [g["id"] for g in last["list"]] == [9, 10] and last["more"] == 0
    beyond = (await get(commerce, LIST, shop_id=1, page_size=4, page_no=4))["data"]
    assert beyond["list"] == [] and beyond["count"] == 10


async def test_list_order_follows_sort_then_newest(commerce, db):
    await db.execute("UPDATE goods SET sort = 100 WHERE id = 7")
    await db.execute("UPDATE goods SET sort = 0 WHERE shop_id = 1 AND id <> 7")
    ids = [g["id"] for g in (await get(commerce, LIST, shop_id=1, page_size=100))["data"]["list"]]
    assert ids == [7, 10, 9, 8, 6, 5, 4, 3, 2, 1]


async def test_list_without_shop_covers_every_shop(commerce, db):
    for params in ({}, {"shop_id": 0}):
        data = (await get(commerce, LIST, page_size=100, **params))["data"]
        assert data["count"] == 20 and len(data["list"]) == 20
        assert {g["shop_id"] for g in data["list"]} == {1, 2}
        assert not {11, 12, 23, 24} & {g["id"] for g in data["list"]}
    second = (await get(commerce, LIST, shop_id=2, page_size=100))["data"]["list"]
    assert {g["shop_id"] for g in second} == {2} and len(second) == 10


async def test_list_hides_deleted_unapproved_and_frozen(commerce, db):
    await db.execute("UPDATE goods SET del = 1 WHERE id = 1")
    await db.execute("UPDATE goods SET audit_status = 0 WHERE id = 2")
    await db.execute("UPDATE shop SET is_freeze = 1 WHERE id = 2")
    data = (await get(commerce, LIST, page_size=100))["data"]
    assert data["count"] == 8 and {g["id"] for g in data["list"]} == set(range(3, 11))


async def test_list_page_size_is_capped(commerce, db):
    await db.executemany("INSERT INTO goods (shop_id, name, min_price) VALUES (1, $1, 1)",
                         [(f"extra{i}",) for i in range(100)])
    data = (await get(commerce, LIST, shop_id=1, page_size=1000))["data"]
    assert data["size"] == 100 and len(data["list"]) == 100 and data["count"] == 110 and data["more"] == 1


async def test_list_of_unknown_shop_is_empty(commerce):
    data = (await get(commerce, LIST, shop_id=77))["data"]
    assert data["list"] == [] and data["count"] == 0


@pytest.mark.parametrize("params, message", [
    ({"shop_id": "x"}, "shop_id 必须是非负整数"),
    ({"shop_id": "-2"}, "shop_id 必须是非负整数"),
    ({"page_no": "abc"}, "page_no 必须是正整数"),
    ({"page_size": "-5"}, "page_size"),
    ({"page_no": "0"}, "page_no"),
    ({"page_no": "10000000"}, "page_no"),
])
async def test_list_bad_input(commerce, params, message):
    body = await get(commerce, LIST, **params)
    assert body["code"] == 0 and message in body["msg"]
