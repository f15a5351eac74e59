"""SQL of the `session` table (buyer logins, one per (user, client))."""
from __future__ import annotations

import asyncpg


async def user_by_token(db: asyncpg.Pool | asyncpg.Connection, token: str) -> asyncpg.Record | None:
    """The live, enabled buyer behind an unexpired token, with the session's client."""
    return await db.fetchrow(
        """SELECT u.*, s.client AS session_client
             FROM session s JOIN "user" u ON u.id = s.user_id
            WHERE s.token = $1 AND s.expire_time > now() AND u.del = 0 AND u.disable = 0""",
        token)
