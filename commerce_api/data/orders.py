"""SQL of the `order` and `order_goods` tables.

Orders come back in the shape both the buyer's list and the kefu's order panel show: the order,
its shop `{id, name, logo}`, the status and type texts, and its `order_goods` lines.
"""
from __future__ import annotations

from typing import Any

import asyncpg

ORDER_STATUS_TEXT = {0: "待付款", 1: "待发货", 2: "待收货", 3: "已完成", 4: "已关闭"}
ORDER_TYPE_TEXT = {0: "普通订单", 1: "秒杀订单", 2: "拼团订单", 3: "砍价订单"}

_LIST_COLUMNS = """o.id, o.order_sn, o.shop_id, s.name AS shop_name, s.logo AS shop_logo, o.order_type,
                   o.order_status, o.order_amount, o.total_num, o.create_time"""
_DETAIL_COLUMNS = _LIST_COLUMNS + """, o.order_source, o.pay_status, o.pay_way, o.pay_time, o.consignee,
                   o.mobile, o.address, o.goods_price, o.shipping_price, o.discount_amount, o.user_remark"""

# Filters that are off when their parameter is NULL / empty keep the statement text fixed.
_USER_FILTER = """o.user_id = $1 AND o.del = 0
                  AND ($2::smallint IS NULL OR o.order_status = $2)
                  AND ($3::int IS NULL OR o.shop_id = $3)
                  AND ($4::text = '' OR starts_with(o.order_sn, $4))"""


def _order(row: asyncpg.Record) -> dict[str, Any]:
    order = dict(row)
    order["shop"] = {"id": order["shop_id"], "name": order.pop("shop_name"), "logo": order.pop("shop_logo")}
    order["order_type_text"] = ORDER_TYPE_TEXT.get(order["order_type"], "")
    order["order_status_text"] = ORDER_STATUS_TEXT.get(order["order_status"], "")
    order["order_goods"] = []
    return order


async def _attach_lines(db: asyncpg.Pool | asyncpg.Connection, orders: list[dict[str, Any]]) -> None:
    """Every order's lines, fetched in one query for the whole page."""
    if not orders:
        return
    by_id = {order["id"]: order for order in orders}
    lines = await db.fetch(
        """SELECT order_id, goods_id, goods_name, image, spec_value_str, goods_num, goods_price, total_price
             FROM order_goods WHERE order_id = ANY($1::int[]) ORDER BY order_id, id""", list(by_id))
    for line in lines:
        item = dict(line)
        by_id[item.pop("order_id")]["order_goods"].append(item)


async def user_orders_page(db: asyncpg.Pool | asyncpg.Connection, user_id: int, *, limit: int, offset: int,
                           status: int | None = None, shop_id: int | None = None,
                           order_sn_prefix: str = "") -> tuple[list[dict[str, Any]], int]:
    """One page of a buyer's live orders, newest first, and their total count. Optional filters:
    order_status, shop (None: every shop) and the start of the order number."""
    args = (user_id, status, shop_id, order_sn_prefix)
    count = await db.fetchval(f'SELECT count(*) FROM "order" o WHERE {_USER_FILTER}', *args)
    rows = await db.fetch(
        f"""SELECT {_LIST_COLUMNS}
              FROM "order" o JOIN shop s ON s.id = o.shop_id
             WHERE {_USER_FILTER}
             ORDER BY o.id DESC
             LIMIT $5 OFFSET $6""", *args, limit, offset)
    orders = [_order(r) for r in rows]
    await _attach_lines(db, orders)
    return orders, count


async def user_order_detail(db: asyncpg.Pool | asyncpg.Connection, user_id: int,
                            order_id: int) -> dict[str, Any] | None:
    """One live order of this buyer (None for another buyer's order), with its lines."""
    row = await db.fetchrow(
        f"""SELECT {_DETAIL_COLUMNS}
              FROM "order" o JOIN shop s ON s.id = o.shop_id
             WHERE o.id = $1 AND o.user_id = $2 AND o.del = 0""", order_id, user_id)
    if row is None:
        return None
    order = _order(row)
    await _attach_lines(db, [order])
    return order
