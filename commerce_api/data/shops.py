"""SQL of the `shop` table."""
from __future__ import annotations

from typing import Any

import asyncpg


async def buyer_shop(db: asyncpg.Pool | asyncpg.Connection, shop_id: int) -> dict[str, Any] | None:
    """A shop buyers may visit (not deleted, not frozen); the score as a number, it is not money."""
    row = await db.fetchrow(
        """SELECT id, name, logo, background, type, intro, score::float8 AS score, is_run
             FROM shop WHERE id = $1 AND del = 0 AND is_freeze = 0""", shop_id)
    return None if row is None else dict(row)
