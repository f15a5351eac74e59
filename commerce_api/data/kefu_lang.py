"""SQL of the `kefu_lang` table: quick replies, per shop (0 = the platform). Title and content are
each unique within a shop; every query is scoped by shop_id as well as id."""
from __future__ import annotations

from typing import Any

import asyncpg

_COLUMNS = "id, shop_id, title, content, sort, create_time, update_time"
_UNIQUE_FIELDS = {"kefu_lang_shop_id_title_key": "title", "kefu_lang_shop_id_content_key": "content"}


class DuplicateQuickReply(Exception):
    """Another quick reply of the shop has this title or content; `field` says which."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def _like_pattern(keyword: str) -> str:
    """A LIKE pattern matching the keyword literally anywhere (% and _ in it are not wildcards)."""
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_quick_replies(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, keyword: str, offset: int,
                             limit: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the shop's quick replies whose title or content contains keyword ('' = all),
    by sort then id, and how many match."""
    where = "shop_id = $1 AND ($2 = '' OR title ILIKE $3 OR content ILIKE $3)"
    pattern = _like_pattern(keyword)
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM kefu_lang WHERE {where} ORDER BY sort, id LIMIT $4 OFFSET $5",
                          shop_id, keyword, pattern, limit, offset)
    count = await db.fetchval(f"SELECT count(*) FROM kefu_lang WHERE {where}", shop_id, keyword, pattern)
    return [dict(r) for r in rows], count


async def get_quick_reply(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, reply_id: int) -> dict[str, Any] | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM kefu_lang WHERE id = $1 AND shop_id = $2", reply_id, shop_id)
    return None if row is None else dict(row)


async def add_quick_reply(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, title: str, content: str,
                          sort: int) -> dict[str, Any]:
    try:
        row = await db.fetchrow(
            f"INSERT INTO kefu_lang (shop_id, title, content, sort) VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}",
            shop_id, title, content, sort)
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate(exc) from None
    return dict(row)


async def update_quick_reply(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, reply_id: int, *,
                             title: str | None = None, content: str | None = None,
                             sort: int | None = None) -> dict[str, Any] | None:
    """Change the given fields of one of the shop's quick replies; None when there is no such reply."""
    try:
        row = await db.fetchrow(
            f"""UPDATE kefu_lang SET title = COALESCE($3, title), content = COALESCE($4, content),
                                     sort = COALESCE($5, sort), update_time = now()
                 WHERE id = $1 AND shop_id = $2 RETURNING {_COLUMNS}""",
            reply_id, shop_id, title, content, sort)
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate(exc) from None
    return None if row is None else dict(row)


async def delete_quick_reply(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, reply_id: int) -> bool:
    deleted = await db.fetchval("DELETE FROM kefu_lang WHERE id = $1 AND shop_id = $2 RETURNING id", reply_id, shop_id)
    return deleted is not None


def _duplicate(exc: asyncpg.UniqueViolationError) -> Exception:
    field = _UNIQUE_FIELDS.get(exc.constraint_name or "")
    return exc if field is None else DuplicateQuickReply(field)
