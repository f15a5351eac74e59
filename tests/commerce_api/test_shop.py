"""Shop information for buyers: /api/shop/getShopInfo."""
import pytest

INFO = "/api/shop/getShopInfo"


async def get(commerce, **params):
    resp = await commerce.get(INFO, params=params)
    assert resp.status == 200
    return await resp.json()


async def test_shop_info(commerce, settings):
    body = await get(commerce, shop_id="1")
    assert body["code"] == 1
    assert body["data"] == {
        "id": 1, "name": "Demo Shop", "logo": settings.public_base_url + "uploads/demo/shop_1.png",
        "background": "", "type": 2, "intro": "Demo Shop 的演示店铺", "score": 5.0, "is_run": 1,
        "goods_count": 10,
    }


async def test_goods_count_counts_what_buyers_can_buy(commerce, db):
    await db.execute("UPDATE goods SET status = 0 WHERE id IN (13, 14)")
    await db.execute("UPDATE goods SET del = 1 WHERE id = 15")
    await db.execute("UPDATE shop SET score = 4.5, background = 'uploads/bg.png', is_run = 0 WHERE id = 2")
    data = (await get(commerce, shop_id="2"))["data"]
    assert data["goods_count"] == 7 and data["score"] == 4.5 and data["is_run"] == 0
    assert data["background"].endswith("/uploads/bg.png")


@pytest.mark.parametrize("arrange, shop_id", [
    (None, "3"),
    ("UPDATE shop SET del = 1 WHERE id = 1", "1"),
    ("UPDATE shop SET is_freeze = 1 WHERE id = 1", "1"),
])
async def test_unknown_or_hidden_shop(commerce, db, arrange, shop_id):
    if arrange:
        await db.execute(arrange)
    body = await get(commerce, shop_id=shop_id)
    assert (body["code"], body["msg"]) == (0, "店铺信息不存在")


@pytest.mark.parametrize("params, message", [
    ({}, "缺少参数 shop_id"),
    ({"shop_id": "0"}, "shop_id 必须是正整数"),
    ({"shop_id": "one"}, "shop_id 必须是正整数"),
    ({"shop_id": "4294967296"}, "shop_id 必须是正整数"),
])
async def test_bad_input(commerce, params, message):
    body = await get(commerce, **params)
    assert (body["code"], body["msg"]) == (0, message)
