"""SQL of the `admin_session` table (back-office logins of platform and merchant admins)."""
from __future__ import annotations

import asyncpg


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
