"""Who owns a conversation (spec §6): sticky to the last kefu while it is online and under its
capacity, else the least-loaded online kefu of the shop; with nobody online the conversation still
gets an owner (the last one, else the least-loaded usable kefu) so that the buyer can leave an
offline message. The buyer's `kefu_id` is only a hint, honoured when that kefu is of the shop: it
breaks ties between equally loaded kefu, and picks the owner of a new conversation when nobody is
online."""
from __future__ import annotations

import asyncpg

from chat_server.data import conversations, principals
from chat_server.presence import Presence


async def choose_owner(pool: asyncpg.Pool, presence: Presence, shop_id: int, current: int | None,
                       hint: int | None, capacity: int) -> int | None:
    """The kefu id to own (shop_id, buyer)'s conversation, or None when the shop has no usable kefu."""
    usable = {r["id"]: r["sort"] for r in await principals.usable_kefu_of_shop(pool, shop_id)}
    if not usable:
        return None
    online = {k: load for k, load in (await presence.online_kefu(shop_id)).items() if k in usable}
    if current in online and online[current] < capacity:
        return current
    if online:
        return min(online, key=lambda k: (online[k], k != hint, usable[k], k))
    for preferred in (current, hint):
        if preferred in usable:
            return preferred
    loads = await conversations.owner_loads(pool, shop_id, list(usable))
    return min(usable, key=lambda k: (loads.get(k, 0), usable[k], k))
