"""SQL of what the chat reads from the mall's settings: the `config` table (a shop's customer-service
mode, the mall's name and favicon) and the `kefu_lang` quick replies. Both are written by the
commerce API's back office; the chat server only reads them."""
from __future__ import annotations

import asyncpg

DB = asyncpg.Pool | asyncpg.Connection

MODE_MANUAL, MODE_ONLINE = 1, 2


async def kefu_mode(db: DB, shop_id: int) -> int:
    """The shop's customer-service mode: 1 manual (contact data), 2 online chat (also when never set)."""
    value = await db.fetchval("SELECT value FROM config WHERE shop_id = $1 AND type = 'kefu' AND name = 'mode'",
                              shop_id)
    return MODE_MANUAL if (value or "").strip() == str(MODE_MANUAL) else MODE_ONLINE


async def website(db: DB) -> dict[str, str]:
    """The mall's `name` and `favicon` (a relative path) from the platform's website settings; '' when unset."""
    rows = await db.fetch("SELECT name, value FROM config WHERE shop_id = 0 AND type = 'website'"
                          " AND name = ANY($1::text[])", ["name", "favicon"])
    stored = {r["name"]: r["value"] for r in rows}
    return {"name": stored.get("name", ""), "favicon": stored.get("favicon", "")}


async def quick_replies(db: DB, shop_id: int, keyword: str, page_no: int, page_size: int
                        ) -> tuple[list[dict], int]:
    """A page of the shop's quick replies by `sort` then id; `keyword` ('' = all) matches title or content."""
    pattern = f"%{_escape_like(keyword)}%" if keyword else None
    where = "shop_id = $1 AND ($2::text IS NULL OR title ILIKE $2 OR content ILIKE $2)"
    total = await db.fetchval(f"SELECT count(*) FROM kefu_lang WHERE {where}", shop_id, pattern)
    rows = await db.fetch(
        f"SELECT id, shop_id, title, content, sort, create_time, update_time FROM kefu_lang WHERE {where}"
        " ORDER BY sort, id LIMIT $3 OFFSET $4", shop_id, pattern, page_size, (page_no - 1) * page_size)
    return [dict(r) for r in rows], total


def _escape_like(text: str) -> str:
    """A literal search term: LIKE's wildcards and its escape character match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
