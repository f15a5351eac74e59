"""SQL of the `session` table (buyer logins, one per (user, client))."""
from __future__ import annotations

import asyncpg

from shared.tokens import new_token


async def user_by_token(db: asyncpg.Pool | asyncpg.Connection, token: str) -> asyncpg.Record | None:
    """The live, enabled buyer behind an unexpired token, with the session's client."""
    return await db.fetchrow(
        """SELECT u.*, s.client AS session_client
             FROM session s JOIN "user" u ON u.id = s.user_id
            WHERE s.token = $1 AND s.expire_time > now() AND u.del = 0 AND u.disable = 0""",
        token)


async def open_session(db: asyncpg.Pool | asyncpg.Connection, user_id: int, client: int, ttl_seconds: int) -> str:
    """A fresh token for (user, client), valid for ttl_seconds; the previous token of that client
    stops working because the row is overwritten."""
    token = new_token()
    await db.execute(
        """INSERT INTO session (user_id, token, client, update_time, expire_time)
           VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4::int))
           ON CONFLICT (user_id, client)
           DO UPDATE SET token = EXCLUDED.token, update_time = now(), expire_time = EXCLUDED.expire_time""",
        user_id, token, client, ttl_seconds)
    return token


async def close_session(db: asyncpg.Pool | asyncpg.Connection, user_id: int, client: int) -> None:
    """Log (user, client) out: the session expires now, so its token answers "not logged in"."""
    await db.execute(
        "UPDATE session SET expire_time = now(), update_time = now() WHERE user_id = $1 AND client = $2",
        user_id, client)
