"""SQL of the `config` table: named settings by (shop, type), shop 0 being the platform.

Type 'kefu' holds the customer-service settings (mode, wechat, phone, business_time, image);
type 'website' of shop 0 the mall's name and favicon. A setting never stored reads as ''.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import asyncpg

KEFU = "kefu"
WEBSITE = "website"
KEFU_NAMES = ("mode", "wechat", "phone", "business_time", "image")


async def get_config(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, type_: str,
                     names: Iterable[str]) -> dict[str, str]:
    """{name: value} for each requested name, '' for those never set."""
    names = list(names)
    rows = await db.fetch("SELECT name, value FROM config WHERE shop_id = $1 AND type = $2 AND name = ANY($3::text[])",
                          shop_id, type_, names)
    stored = {r["name"]: r["value"] for r in rows}
    return {name: stored.get(name, "") for name in names}


async def set_config(db: asyncpg.Pool | asyncpg.Connection, shop_id: int, type_: str,
                     values: Mapping[str, str]) -> None:
    """Insert or overwrite the given settings in one statement."""
    if not values:
        return
    await db.execute(
        """INSERT INTO config (shop_id, type, name, value)
           SELECT $1, $2, v.name, v.value FROM unnest($3::text[], $4::text[]) AS v(name, value)
           ON CONFLICT (shop_id, type, name) DO UPDATE SET value = EXCLUDED.value, update_time = now()""",
        shop_id, type_, list(values.keys()), list(values.values()))
