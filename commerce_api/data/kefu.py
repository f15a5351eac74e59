"""SQL of the `kefu` table: the customer-service agents of a shop (shop 0 = the platform).

Every query is scoped by shop_id as well as id, so an id taken from another shop finds nothing.
A kefu of shop 0 is bound to an `admin`, any other to a `shop_admin` of its own shop.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import asyncpg

from commerce_api.data.kefu_sessions import revoke_kefu_sessions


class AdminAlreadyBound(Exception):
    """The account already has a live kefu in this shop (unique index kefu_admin_live)."""


@asynccontextmanager
async def _transaction(db: asyncpg.Pool | asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db


# The bound account's login name and name; admin_disable is 1 when that account can no longer
# log in (disabled or deleted), which also keeps its kefu out of the chat.
_SELECT = """
    SELECT k.id, k.shop_id, k.admin_id, k.nickname, k.avatar, k.disable, k.sort, k.create_time, k.update_time,
           COALESCE(a.account, sa.account, '') AS account, COALESCE(a.name, sa.name, '') AS name,
           CASE WHEN COALESCE(a.del = 0 AND a.disable = 0, sa.del = 0 AND sa.disable = 0, false)
                THEN 0 ELSE 1 END AS admin_disable
      FROM kefu k
      LEFT JOIN admin a ON k.shop_id = 0 AND a.id = k.admin_id
      LEFT JOIN shop_admin sa ON k.shop_id <> 0 AND sa.id = k.admin_id AND sa.shop_id = k.shop_id
"""


async def list_kefu(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, offset: int,
                    limit: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the shop's live kefu, by sort then id, and how many there are."""
    rows = await db.fetch(_SELECT + " WHERE k.shop_id = $1 AND k.del = 0 ORDER BY k.sort, k.id LIMIT $2 OFFSET $3",
                          shop_id, limit, offset)
    count = await db.fetchval("SELECT count(*) FROM kefu WHERE shop_id = $1 AND del = 0", shop_id)
    return [dict(r) for r in rows], count


async def get_kefu(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, kefu_id: int) -> dict[str, Any] | None:
    row = await db.fetchrow(_SELECT + " WHERE k.id = $1 AND k.shop_id = $2 AND k.del = 0", kefu_id, shop_id)
    return None if row is None else dict(row)


async def add_kefu(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, admin_id: int, nickname: str,
                   avatar: str, sort: int, disable: int) -> dict[str, Any]:
    """Create a kefu bound to the account admin_id (which the caller checked belongs to the shop)."""
    try:
        kefu_id = await db.fetchval(
            """INSERT INTO kefu (shop_id, admin_id, nickname, avatar, sort, disable)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            shop_id, admin_id, nickname, avatar, sort, disable)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "kefu_admin_live":
            raise AdminAlreadyBound() from None
        raise
    return await get_kefu(db, shop_id, kefu_id)


async def update_kefu(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, kefu_id: int, *, nickname: str | None = None,
                      avatar: str | None = None, sort: int | None = None,
                      disable: int | None = None) -> dict[str, Any] | None:
    """Change the given fields of a live kefu of the shop; None when there is no such kefu.
    Disabling it revokes its sessions in the same transaction."""
    async with _transaction(db) as conn:
        found = await conn.fetchval(
            """UPDATE kefu SET nickname = COALESCE($3, nickname), avatar = COALESCE($4, avatar),
                               sort = COALESCE($5, sort), disable = COALESCE($6, disable), update_time = now()
                WHERE id = $1 AND shop_id = $2 AND del = 0 RETURNING id""",
            kefu_id, shop_id, nickname, avatar, sort, disable)
        if found is None:
            return None
        if disable == 1:
            await revoke_kefu_sessions(conn, [kefu_id])
        return await get_kefu(conn, shop_id, kefu_id)


async def delete_kefu(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, kefu_id: int) -> bool:
    """Soft-delete a live kefu of the shop and revoke its sessions; False when there is no such kefu.
    Its account becomes free to be bound again."""
    async with _transaction(db) as conn:
        found = await conn.fetchval(
            "UPDATE kefu SET del = 1, update_time = now() WHERE id = $1 AND shop_id = $2 AND del = 0 RETURNING id",
            kefu_id, shop_id)
        if found is None:
            return False
        await revoke_kefu_sessions(conn, [kefu_id])
        return True
