"""SQL of the `user` table (buyer accounts) and its `user_level` names."""
from __future__ import annotations

import secrets
from typing import Any

import asyncpg

SN_ATTEMPTS = 5


class MobileTaken(Exception):
    """A live account already uses this mobile number."""


async def user_for_login(db: asyncpg.Pool | asyncpg.Connection, mobile: str) -> asyncpg.Record | None:
    """The live account with this mobile number, with what a login checks."""
    return await db.fetchrow(
        """SELECT id, nickname, avatar, level, password, salt, disable
             FROM "user" WHERE mobile = $1 AND del = 0""", mobile)


async def record_login(db: asyncpg.Pool | asyncpg.Connection, user_id: int, ip: str,
                       new_password_hash: str | None) -> None:
    """Stamp the login; store the replacement hash when the old one was legacy or outdated."""
    await db.execute(
        """UPDATE "user"
              SET login_time = now(), login_ip = $2, update_time = now(),
                  password = COALESCE($3::text, password),
                  salt = CASE WHEN $3::text IS NULL THEN salt ELSE '' END
            WHERE id = $1""",
        user_id, ip, new_password_hash)


async def create_user(conn: asyncpg.Connection, mobile: str, password_hash: str, client: int,
                      ip: str) -> asyncpg.Record:
    """A new buyer with a random 8-digit sn, nickname "用户" + the mobile's last 4 digits and the
    entry level. Raises MobileTaken when the number is in use (the unique index decides, so two
    concurrent registrations cannot both win)."""
    for _ in range(SN_ATTEMPTS):
        sn = str(10_000_000 + secrets.randbelow(90_000_000))
        try:
            # A savepoint: a failed attempt must not abort the caller's transaction.
            async with conn.transaction():
                return await conn.fetchrow(
                    """INSERT INTO "user" (sn, nickname, mobile, password, client, login_ip, login_time, level)
                       VALUES ($1, $2, $3, $4, $5, $6, now(),
                               (SELECT id FROM user_level WHERE del = 0 ORDER BY growth_value, id LIMIT 1))
                       RETURNING id, nickname, avatar, level""",
                    sn, "用户" + mobile[-4:], mobile, password_hash, client, ip)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "user_mobile_live":
                raise MobileTaken(mobile) from None
            if exc.constraint_name != "user_sn_key":
                raise
    raise RuntimeError(f"no free user sn after {SN_ATTEMPTS} attempts")


async def mobile_in_use(db: asyncpg.Pool | asyncpg.Connection, mobile: str) -> bool:
    return await db.fetchval('SELECT EXISTS (SELECT 1 FROM "user" WHERE mobile = $1 AND del = 0)', mobile)


async def user_profile(db: asyncpg.Pool | asyncpg.Connection, user_id: int) -> dict[str, Any] | None:
    """A live (not deleted) buyer's profile with its level name ("" when the level is gone)."""
    row = await db.fetchrow(
        """SELECT u.id, u.sn, u.nickname, u.avatar, u.mobile, u.level, COALESCE(l.name, '') AS level_name,
                  u.sex, u.birthday, u.user_money, u.user_integral, u.total_order_amount, u.client,
                  u.disable, u.create_time
             FROM "user" u LEFT JOIN user_level l ON l.id = u.level AND l.del = 0
            WHERE u.id = $1 AND u.del = 0""", user_id)
    return None if row is None else dict(row)
