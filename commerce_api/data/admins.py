"""SQL of the back-office accounts (`admin`: platform, `shop_admin`: merchants) and of the shop
an account works for, as the back office needs them.

admin_type names the table: 'admin' accounts belong to shop 0 (the platform), 'shop_admin'
accounts to their `shop_id`.
"""
from __future__ import annotations

from typing import Any

import asyncpg

_LOGIN_SQL = {
    "admin": """SELECT a.id, a.name, a.account, a.avatar, a.password, a.salt, a.disable, 0 AS shop_id
                  FROM admin a WHERE a.account = $1 AND a.del = 0""",
    "shop_admin": """SELECT a.id, a.name, a.account, a.avatar, a.password, a.salt, a.disable, a.shop_id,
                            sh.name AS shop_name
                       FROM shop_admin a JOIN shop sh ON sh.id = a.shop_id
                      WHERE a.account = $1 AND a.del = 0 AND sh.del = 0""",
}

_RECORD_LOGIN_SQL = {
    "admin": """UPDATE admin
                   SET login_time = now(), login_ip = $2, update_time = now(), password = COALESCE($3, password),
                       salt = CASE WHEN $3::text IS NULL THEN salt ELSE '' END
                 WHERE id = $1""",
    "shop_admin": """UPDATE shop_admin
                        SET login_time = now(), login_ip = $2, update_time = now(), password = COALESCE($3, password),
                            salt = CASE WHEN $3::text IS NULL THEN salt ELSE '' END
                      WHERE id = $1""",
}


async def account_for_login(db: asyncpg.Pool | asyncpg.Connection, admin_type: str,
                            account: str) -> dict[str, Any] | None:
    """The live account with this login name (disabled ones included: the caller says why it
    refuses), with its password hash and salt; for merchants only when the shop is not deleted."""
    row = await db.fetchrow(_LOGIN_SQL[admin_type], account)
    return None if row is None else dict(row)


async def record_login(db: asyncpg.Pool | asyncpg.Connection, admin_type: str, admin_id: int,
                       ip: str, new_password_hash: str | None) -> None:
    """Stamp the login; store the rehashed password when the check produced one (legacy md5 →
    argon2: the salt is then no longer needed)."""
    await db.execute(_RECORD_LOGIN_SQL[admin_type], admin_id, ip[:64], new_password_hash)


async def bindable_admin(db: asyncpg.Pool | asyncpg.Connection, shop_id: int,
                         admin_id: int) -> dict[str, Any] | None:
    """A live account of this shop that a kefu may be bound to: an `admin` for shop 0, a
    `shop_admin` of the shop otherwise. None when there is no such account in this shop."""
    if shop_id == 0:
        row = await db.fetchrow("SELECT id, name, account, disable FROM admin WHERE id = $1 AND del = 0", admin_id)
    else:
        row = await db.fetchrow(
            "SELECT id, name, account, disable FROM shop_admin WHERE id = $1 AND shop_id = $2 AND del = 0",
            admin_id, shop_id)
    return None if row is None else dict(row)


async def live_shop(db: asyncpg.Pool | asyncpg.Connection, shop_id: int) -> dict[str, Any] | None:
    """The shop's public profile, or None when it does not exist or is deleted."""
    row = await db.fetchrow(
        """SELECT id, name, logo, background, type, intro, nickname, mobile, is_run, create_time
             FROM shop WHERE id = $1 AND del = 0""", shop_id)
    return None if row is None else dict(row)
