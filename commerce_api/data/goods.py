"""SQL of the `goods` table."""
from __future__ import annotations

from typing import Any

import asyncpg

# What a buyer may see: live, on sale, approved by the platform, in a live shop that is not frozen.
_BUYER_VISIBLE = """g.del = 0 AND g.status = 1 AND g.audit_status = 1
                    AND s.del = 0 AND s.is_freeze = 0"""


class GoodsMissing(LookupError):
    """No such goods for a buyer: unknown, deleted, not approved, or its shop is gone."""


class GoodsOffSale(LookupError):
    """The goods exists but is not on sale (or its shop is frozen)."""


async def buyer_goods_detail(db: asyncpg.Pool | asyncpg.Connection, goods_id: int) -> dict[str, Any]:
    """A goods a buyer may open, with its shop; raises GoodsMissing or GoodsOffSale."""
    row = await db.fetchrow(
        """SELECT g.id, g.name, g.image, g.min_price, g.max_price, g.market_price, g.stock, g.remark,
                  g.content, g.shop_id, g.status, g.audit_status, g.del,
                  s.name AS shop_name, s.logo AS shop_logo, s.del AS shop_del, s.is_freeze AS shop_is_freeze
             FROM goods g JOIN shop s ON s.id = g.shop_id
            WHERE g.id = $1""", goods_id)
    if row is None or row["del"] or row["audit_status"] != 1 or row["shop_del"]:
        raise GoodsMissing(goods_id)
    if row["status"] != 1 or row["shop_is_freeze"]:
        raise GoodsOffSale(goods_id)
    return {
        "id": row["id"], "name": row["name"], "image": row["image"], "min_price": row["min_price"],
        "max_price": row["max_price"], "market_price": row["market_price"], "stock": row["stock"],
        "remark": row["remark"], "content": row["content"], "shop_id": row["shop_id"], "status": row["status"],
        "shop": {"id": row["shop_id"], "name": row["shop_name"], "logo": row["shop_logo"]},
    }


async def buyer_goods_page(db: asyncpg.Pool | asyncpg.Connection, shop_id: int | None, limit: int,
                           offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the goods a buyer may see (of one shop, or of all when shop_id is None), by the
    merchant's sort then newest first; and the total count."""
    where = f"{_BUYER_VISIBLE} AND ($1::int IS NULL OR g.shop_id = $1)"
    count = await db.fetchval(f"SELECT count(*) FROM goods g JOIN shop s ON s.id = g.shop_id WHERE {where}",
                              shop_id)
    rows = await db.fetch(
        f"""SELECT g.id, g.name, g.image, g.min_price, g.max_price, g.market_price, g.stock,
                   g.sales_actual AS sales, g.shop_id
              FROM goods g JOIN shop s ON s.id = g.shop_id
             WHERE {where}
             ORDER BY g.sort DESC, g.id DESC
             LIMIT $2 OFFSET $3""", shop_id, limit, offset)
    return [dict(r) for r in rows], count


async def on_sale_count(db: asyncpg.Pool | asyncpg.Connection, shop_id: int) -> int:
    """How many goods of a shop a buyer may see."""
    return await db.fetchval(
        f"SELECT count(*) FROM goods g JOIN shop s ON s.id = g.shop_id WHERE {_BUYER_VISIBLE} AND g.shop_id = $1",
        shop_id)


async def goods_cards(db: asyncpg.Pool | asyncpg.Connection, ids: list[int]) -> dict[str, dict[str, Any]]:
    """The goods among `ids` that exist, deleted and off-sale ones included, keyed by str(id):
    the chat server judges sale status and shop ownership itself."""
    rows = await db.fetch(
        """SELECT id, name, image, min_price, shop_id, status, del, audit_status
             FROM goods WHERE id = ANY($1::int[]) ORDER BY id""", ids)
    return {str(r["id"]): dict(r) for r in rows}
