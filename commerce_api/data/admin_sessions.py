"""SQL of the `admin_session` table (back-office logins of platform and merchant admins)."""
from __future__ import annotations

import asyncpg

from shared.tokens import new_token


async def admin_by_token(db: asyncpg.Pool | asyncpg.Connection, token: str, admin_type: str) -> asyncpg.Record | None:
    """The live, enabled admin behind an unexpired token. admin_type: 'admin' (platform) or
    'shop_admin' (merchant; its shop must exist and not be deleted)."""
    if admin_type == "admin":
        return await db.fetchrow(
            """SELECT a.*, 0 AS shop_id, s.client AS session_client
                 FROM admin_session s JOIN admin a ON a.id = s.admin_id
                WHERE s.token = $1 AND s.admin_type = 'admin' AND s.expire_time > now()
                  AND a.del = 0 AND a.disable = 0""", token)
    return await db.fetchrow(
        """SELECT a.*, s.client AS session_client
             FROM admin_session s JOIN shop_admin a ON a.id = s.admin_id JOIN shop sh ON sh.id = a.shop_id
            WHERE s.token = $1 AND s.admin_type = 'shop_admin' AND s.expire_time > now()
              AND a.del = 0 AND a.disable = 0 AND sh.del = 0""", token)


async def open_admin_session(db: asyncpg.Pool | asyncpg.Connection, admin_type: str, admin_id: int,
                             shop_id: int, client: int, ttl_seconds: int) -> str:
    """Start (or restart) the admin's session on this client with a fresh token; returns the token.
    One session per (admin_type, admin_id, client): a new login replaces the previous token."""
    return await db.fetchval(
        """INSERT INTO admin_session (admin_type, admin_id, shop_id, token, client, expire_time)
           VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
           ON CONFLICT (admin_type, admin_id, client) DO UPDATE
              SET token = EXCLUDED.token, shop_id = EXCLUDED.shop_id, update_time = now(),
                  expire_time = EXCLUDED.expire_time
           RETURNING token""",
        admin_type, admin_id, shop_id, new_token(), client, float(ttl_seconds))


async def end_admin_session(db: asyncpg.Pool | asyncpg.Connection, token: str, admin_type: str) -> None:
    """Log out: the token stops resolving from now on."""
    await db.execute(
        """UPDATE admin_session SET expire_time = now(), update_time = now()
            WHERE token = $1 AND admin_type = $2 AND expire_time > now()""", token, admin_type)
