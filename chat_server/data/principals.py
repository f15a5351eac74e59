"""SQL for who may connect: buyer and kefu sessions, kefu accounts and the admins they are bound to,
and shop existence. Tables: session, kefu_session, kefu, admin, shop_admin, shop, "user"."""
from __future__ import annotations

from datetime import timedelta

import asyncpg

DB = asyncpg.Pool | asyncpg.Connection

# A kefu is usable while it is live and enabled and so is the admin it is bound to (a platform
# `admin` for shop 0, a `shop_admin` of its own, live and unfrozen shop otherwise).
_KEFU_USABLE = """
    k.del = 0 AND k.disable = 0 AND (
        (k.shop_id = 0 AND EXISTS (SELECT 1 FROM admin a WHERE a.id = k.admin_id AND a.del = 0 AND a.disable = 0))
     OR (k.shop_id > 0 AND EXISTS (SELECT 1 FROM shop_admin sa JOIN shop sh ON sh.id = sa.shop_id
                                   WHERE sa.id = k.admin_id AND sa.shop_id = k.shop_id
                                     AND sa.del = 0 AND sa.disable = 0 AND sh.del = 0 AND sh.is_freeze = 0)))
"""


async def user_by_token(db: DB, token: str, client: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        """SELECT u.id, u.nickname, u.avatar, s.id AS session_id, extract(epoch FROM s.expire_time)::float8 AS expires_at
             FROM session s JOIN "user" u ON u.id = s.user_id
            WHERE s.token = $1 AND s.client = $2 AND s.expire_time > now() AND u.del = 0 AND u.disable = 0""",
        token, client)


async def kefu_by_token(db: DB, token: str, client: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""SELECT k.id, k.shop_id, k.nickname, k.avatar, s.id AS session_id,
                   extract(epoch FROM s.expire_time)::float8 AS expires_at
              FROM kefu_session s JOIN kefu k ON k.id = s.kefu_id
             WHERE s.token = $1 AND s.client = $2 AND s.expire_time > now() AND {_KEFU_USABLE}""",
        token, client)


async def shop_exists(db: DB, shop_id: int) -> bool:
    return shop_id == 0 or bool(await db.fetchval("SELECT 1 FROM shop WHERE id = $1 AND del = 0 AND is_freeze = 0",
                                                  shop_id))


async def usable_kefu(db: DB, kefu_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT k.id, k.shop_id, k.nickname, k.avatar, k.sort FROM kefu k WHERE k.id = $1 AND {_KEFU_USABLE}",
        kefu_id)


async def usable_kefu_of_shop(db: DB, shop_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT k.id, k.shop_id, k.nickname, k.avatar, k.sort FROM kefu k WHERE k.shop_id = $1 AND {_KEFU_USABLE}"
        " ORDER BY k.sort, k.id", shop_id)


async def user_profile(db: DB, user_id: int) -> asyncpg.Record | None:
    return await db.fetchrow('SELECT id, nickname, avatar FROM "user" WHERE id = $1 AND del = 0', user_id)


async def admin_for_kefu_login(db: DB, admin_type: str, account: str) -> asyncpg.Record | None:
    """The back-office account a kefu logs in with: `admin` (platform) or `shop_admin` (merchant)."""
    if admin_type == "admin":
        return await db.fetchrow(
            "SELECT id, 0 AS shop_id, password, salt, disable, 'admin' AS admin_type FROM admin"
            " WHERE account = $1 AND del = 0", account)
    return await db.fetchrow(
        "SELECT sa.id, sa.shop_id, sa.password, sa.salt, sa.disable, 'shop_admin' AS admin_type"
        " FROM shop_admin sa JOIN shop sh ON sh.id = sa.shop_id"
        " WHERE sa.account = $1 AND sa.del = 0 AND sh.del = 0", account)


async def store_admin_password(db: DB, admin_type: str, admin_id: int, password_hash: str) -> None:
    table = "admin" if admin_type == "admin" else "shop_admin"
    await db.execute(f"UPDATE {table} SET password = $2, salt = '', update_time = now() WHERE id = $1",
                     admin_id, password_hash)


async def kefu_of_admin(db: DB, shop_id: int, admin_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, shop_id, nickname, avatar, disable FROM kefu WHERE shop_id = $1 AND admin_id = $2 AND del = 0",
        shop_id, admin_id)


async def open_kefu_session(db: DB, kefu_id: int, shop_id: int, token: str, client: int, ttl: int) -> None:
    """One session per (kefu, client): a new login replaces the previous token."""
    await db.execute(
        """INSERT INTO kefu_session (kefu_id, shop_id, token, client, expire_time)
           VALUES ($1, $2, $3, $4, now() + $5::interval)
           ON CONFLICT (kefu_id, client) DO UPDATE
              SET token = EXCLUDED.token, shop_id = EXCLUDED.shop_id, update_time = now(),
                  expire_time = EXCLUDED.expire_time""",
        kefu_id, shop_id, token, client, timedelta(seconds=ttl))


async def close_kefu_session(db: DB, token: str) -> int | None:
    """Expire a kefu token and, in the same statement (so on commit), NOTIFY kefu_revoked so that
    every node closes that kefu's sockets. Returns the kefu id, or None for an unknown token."""
    return await db.fetchval(
        """WITH s AS (UPDATE kefu_session SET expire_time = now(), update_time = now()
                       WHERE token = $1 AND expire_time > now() RETURNING kefu_id)
           SELECT kefu_id FROM s, pg_notify('kefu_revoked', s.kefu_id::text)""", token)


async def kefu_by_session_token(db: DB, token: str) -> asyncpg.Record | None:
    """The usable kefu behind an unexpired HTTP token (the console's `token` header), any client."""
    return await db.fetchrow(
        f"""SELECT k.id, k.shop_id, k.nickname, k.avatar FROM kefu_session s JOIN kefu k ON k.id = s.kefu_id
             WHERE s.token = $1 AND s.expire_time > now() AND {_KEFU_USABLE}""",
        token)


async def user_by_session_token(db: DB, token: str) -> asyncpg.Record | None:
    """The live, enabled buyer behind an unexpired HTTP token, any client."""
    return await db.fetchrow(
        """SELECT u.id, u.nickname, u.avatar FROM session s JOIN "user" u ON u.id = s.user_id
            WHERE s.token = $1 AND s.expire_time > now() AND u.del = 0 AND u.disable = 0""",
        token)


async def kefu_card(db: DB, shop_id: int, kefu_id: int) -> asyncpg.Record | None:
    """{id, nickname, avatar} of a live kefu of the shop (who a buyer is talking to)."""
    return await db.fetchrow("SELECT id, nickname, avatar FROM kefu WHERE id = $1 AND shop_id = $2 AND del = 0",
                             kefu_id, shop_id)


async def logins_still_valid(db: DB, user_sessions: list[int], kefu_sessions: list[int],
                             shops: list[int]) -> tuple[dict[tuple[str, int], float], set[int]]:
    """For sockets that may have missed a revocation: each session's expiry (unix seconds; 0 when
    its buyer or kefu is no longer usable; absent when the row is gone), and which of `shops` are
    frozen or deleted."""
    rows = await db.fetch(
        f"""SELECT 'user' AS role, s.id, CASE WHEN u.del = 0 AND u.disable = 0
                   THEN extract(epoch FROM s.expire_time)::float8 ELSE 0 END AS expires_at
              FROM session s JOIN "user" u ON u.id = s.user_id WHERE s.id = ANY($1::int[])
            UNION ALL
            SELECT 'kefu', s.id, CASE WHEN {_KEFU_USABLE} THEN extract(epoch FROM s.expire_time)::float8 ELSE 0 END
              FROM kefu_session s JOIN kefu k ON k.id = s.kefu_id WHERE s.id = ANY($2::int[])""",
        user_sessions, kefu_sessions)
    closed = await db.fetch(
        """SELECT t.id FROM unnest($1::int[]) AS t(id)
            WHERE t.id <> 0 AND NOT EXISTS (SELECT 1 FROM shop s WHERE s.id = t.id AND s.del = 0 AND s.is_freeze = 0)""",
        shops)
    return {(r["role"], r["id"]): r["expires_at"] for r in rows}, {r["id"] for r in closed}
