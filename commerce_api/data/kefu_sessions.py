"""SQL of the `kefu_session` table (customer-service agents' logins) and of their revocation.

Revoking a kefu deletes its sessions and, in the same transaction, NOTIFYs `kefu_revoked` with
the kefu id: chat servers LISTEN on that channel and close the kefu's sockets at once, so a
disabled or deleted agent cannot keep chatting on a connection opened before the change.
"""
from __future__ import annotations

import asyncpg

from shared.tokens import new_token

KEFU_REVOKED_CHANNEL = "kefu_revoked"
KEFU_CLIENT = 5   # the kefu console is always the pc client


async def revoke_kefu_sessions(conn: asyncpg.Connection, kefu_ids: list[int]) -> None:
    """Delete the kefus' sessions and announce them on `kefu_revoked`. Call inside the transaction
    that disables or deletes them: the notification is delivered only if that commits."""
    if not kefu_ids:
        return
    await conn.execute("DELETE FROM kefu_session WHERE kefu_id = ANY($1::int[])", kefu_ids)
    await conn.execute("SELECT pg_notify($1, id::text) FROM unnest($2::int[]) AS id", KEFU_REVOKED_CHANNEL, kefu_ids)


async def open_kefu_session(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, kefu_id: int,
                            ttl_seconds: int, client: int = KEFU_CLIENT) -> str | None:
    """A fresh token for the kefu on this client (replacing the previous one), or None when the
    kefu is not a live, enabled kefu of this shop whose bound account is live and enabled.

    The kefu row is read FOR SHARE so that a concurrent disable waits for this insert and then
    deletes the new session too, or this statement waits for the disable and inserts nothing.
    """
    return await db.fetchval(
        """INSERT INTO kefu_session (kefu_id, shop_id, token, client, expire_time)
           SELECT k.id, k.shop_id, $3, $4, now() + make_interval(secs => $5)
             FROM kefu k
             LEFT JOIN admin a ON k.shop_id = 0 AND a.id = k.admin_id
             LEFT JOIN shop_admin sa ON k.shop_id <> 0 AND sa.id = k.admin_id AND sa.shop_id = k.shop_id
            WHERE k.id = $2 AND k.shop_id = $1 AND k.del = 0 AND k.disable = 0
              AND COALESCE(a.del = 0 AND a.disable = 0, sa.del = 0 AND sa.disable = 0, false)
              FOR SHARE OF k
           ON CONFLICT (kefu_id, client) DO UPDATE
              SET token = EXCLUDED.token, shop_id = EXCLUDED.shop_id, update_time = now(),
                  expire_time = EXCLUDED.expire_time
           RETURNING token""",
        shop_id, kefu_id, new_token(), client, float(ttl_seconds))
