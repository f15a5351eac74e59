"""The buyer's orders: /api/order/lists and /api/order/getOrderDetail (demo: users 1..5 each have
one order per status 0..4 in each of shops 1 and 2; user 1 owns orders 1..10)."""
import re

import pytest

LIST = "/api/order/lists"
DETAIL = "/api/order/getOrderDetail"
ROW_KEYS = {"id", "order_sn", "shop_id", "shop", "order_type", "order_type_text", "order_status",
            "order_status_text", "order_amount", "total_num", "create_time", "order_goods"}
LINE_KEYS = {"goods_id", "goods_name", "image", "spec_value_str", "goods_num", "goods_price", "total_price"}
STATUS_TEXT = {0: "待付款", 1: "待发货", 2: "待收货", 3: "已完成", 4: "已关闭"}
TYPE_TEXT = {0: "普通订单", 1: "秒杀订单", 2: "拼团订单", 3: "砍价订单"}


async def login(commerce, user_id=1):
    resp = await commerce.post("/api/account/login", data={"mobile": f"138{user_id:08d}",
                                                           "password": "user123456", "client": "6"})
    body = await resp.json()
    assert body["code"] == 1, body
    return body["data"]["token"]


async def get(commerce, path, token, **params):
    resp = await commerce.get(path, params={k: str(v) for k, v in params.items()},
                              headers={"token": token} if token else {})
    assert resp.status == 200
    return await resp.json()


async def test_list_all_orders_of_the_caller(commerce, db, settings):
    body = await get(commerce, LIST, await login(commerce, 1), page_size=100)
    assert body["code"] == 1
    data = body["data"]
    assert data["count"] == 10 and data["more"] == 0
    assert [o["id"] for o in data["list"]] == list(range(10, 0, -1))
    db_lines = await db.fetch("SELECT * FROM order_goods WHERE order_id BETWEEN 1 AND 10 ORDER BY order_id, id")
    for order in data["list"]:
        row = await db.fetchrow('SELECT * FROM "order" WHERE id = $1', order["id"])
        assert set(order) == ROW_KEYS
        assert row["user_id"] == 1 and order["order_sn"] == row["order_sn"]
        assert order["order_status_text"] == STATUS_TEXT[order["order_status"]] == STATUS_TEXT[row["order_status"]]
        assert order["order_type_text"] == TYPE_TEXT[order["order_type"]]
        assert order["order_amount"] == f"{row['order_amount']:.2f}" and order["total_num"] == row["total_num"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", order["create_time"])
        assert order["shop"]["id"] == order["shop_id"] and order["shop"]["logo"].startswith(settings.public_base_url)
        lines = [line for line in db_lines if line["order_id"] == order["id"]]
        assert len(order["order_goods"]) == len(lines) >= 1
        for got, want in zip(order["order_goods"], lines):
            assert set(got) == LINE_KEYS
            assert (got["goods_id"], got["goods_name"], got["goods_num"]) == (want["goods_id"], want["goods_name"],
                                                                             want["goods_num"])
            assert got["goods_price"] == f"{want['goods_price']:.2f}"
            assert got["total_price"] == f"{want['total_price']:.2f}"
            assert got["image"] == settings.public_base_url + want["image"]


@pytest.mark.parametrize("list_type, status", [
    ("pay", 0), ("delivery", 1), ("take", 2), ("finish", 3), ("close", 4)])
async def test_list_by_type(commerce, list_type, status):
    data = (await get(commerce, LIST, await login(commerce, 2), type=list_type))["data"]
    assert data["count"] == 2
    assert {o["order_status"] for o in data["list"]} == {status}
    assert {o["shop_id"] for o in data["list"]} == {1, 2}


@pytest.mark.parametrize("list_type", ["all", ""])
async def test_list_all_types(commerce, list_type):
    data = (await get(commerce, LIST, await login(commerce, 3), type=list_type))["data"]
    assert data["count"] == 10


async def test_list_pages_and_hides_deleted_orders(commerce, db):
    await db.execute('UPDATE "order" SET del = 1 WHERE id = 10')
    token = await login(commerce, 1)
    page1 = (await get(commerce, LIST, token, page_size=4))["data"]
    page3 = (await get(commerce, LIST, token, page_size=4, page_no=3))["data"]
    assert page1["count"] == 9 and [o["id"] for o in page1["list"]] == [9, 8, 7, 6] and page1["more"] == 1
    assert [o["id"] for o in page3["list"]] == [1] and page3["more"] == 0


async def test_user_without_orders_gets_an_empty_page(commerce):
    data = (await get(commerce, LIST, await login(commerce, 20)))["data"]
    assert data == {"list": [], "page": 1, "size": 15, "count": 0, "more": 0}


@pytest.mark.parametrize("params, message", [
    ({"type": "unpaid"}, "type 只能是 all、pay、delivery、take、finish、close 之一"),
    ({"page_size": "0"}, "page_size"),
    ({"page_no": "x"}, "page_no 必须是正整数"),
])
async def test_list_bad_input(commerce, params, message):
    body = await get(commerce, LIST, await login(commerce, 1), **params)
    assert body["code"] == 0 and message in body["msg"]


@pytest.mark.parametrize("path", [LIST, DETAIL + "?id=1"])
@pytest.mark.parametrize("token", [None, "0123456789abcdef0123456789abcdef", "short"])
async def test_orders_need_login(commerce, path, token):
    resp = await commerce.get(path, headers={"token": token} if token else {})
    assert (await resp.json())["code"] == -1


async def test_detail_of_own_order(commerce, db, settings):
    body = await get(commerce, DETAIL, await login(commerce, 1), id=2)
    assert body["code"] == 1
    data = body["data"]
    assert ROW_KEYS <= set(data)
    assert {"consignee", "mobile", "address", "pay_status", "pay_time", "goods_price", "shipping_price",
            "discount_amount", "user_remark"} <= set(data)
    row = await db.fetchrow('SELECT * FROM "order" WHERE id = 2')
    assert data["id"] == 2 and data["order_sn"] == row["order_sn"] and data["consignee"] == row["consignee"]
    assert data["order_status"] == 1 and data["order_status_text"] == "待发货"
    assert data["order_type"] == 1 and data["order_type_text"] == "秒杀订单"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", data["pay_time"])
    assert data["shop"]["name"] == "Demo Shop"
    lines = await db.fetch("SELECT goods_id FROM order_goods WHERE order_id = 2 ORDER BY id")
    assert [g["goods_id"] for g in data["order_goods"]] == [r["goods_id"] for r in lines] and len(lines) == 2
    unpaid = (await get(commerce, DETAIL, await login(commerce, 1), id=1))["data"]
    assert unpaid["pay_time"] == ""


@pytest.mark.parametrize("order_id", [11, 50, 999])    # 11 and 50 belong to users 2 and 5
async def test_detail_of_someone_elses_or_missing_order(commerce, order_id):
    body = await get(commerce, DETAIL, await login(commerce, 1), id=order_id)
    assert (body["code"], body["msg"]) == (0, "订单不存在")


async def test_detail_of_deleted_order(commerce, db):
    await db.execute('UPDATE "order" SET del = 1 WHERE id = 3')
    body = await get(commerce, DETAIL, await login(commerce, 1), id=3)
    assert body["msg"] == "订单不存在"


@pytest.mark.parametrize("params, message", [
    ({}, "缺少参数 id"), ({"id": "abc"}, "id 必须是正整数"), ({"id": "-3"}, "id 必须是正整数"),
    ({"id": "3000000000"}, "id 必须是正整数"),
])
async def test_detail_bad_input(commerce, params, message):
    body = await get(commerce, DETAIL, await login(commerce, 1), **params)
    assert (body["code"], body["msg"]) == (0, message)


class CountingConnection:
    """A real connection that counts the statements it runs."""

    def __init__(self, conn):
        self.conn, self.statements = conn, 0

    def __getattr__(self, name):
        method = getattr(self.conn, name)

        async def counted(*args, **kwargs):
            self.statements += 1
            return await method(*args, **kwargs)
        return counted


async def test_order_lines_of_a_page_come_in_one_query(db):
    from commerce_api.data.orders import user_orders_page
    counting = CountingConnection(db)
    rows, count = await user_orders_page(counting, 1, limit=100, offset=0)
    assert count == 10 and sum(len(o["order_goods"]) for o in rows) > 10
    assert counting.statements == 3     # count, page, every line of the page
