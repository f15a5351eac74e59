"""The presence seam: who is online, across every node, and how loaded each kefu is.

A user is online *for a shop* while any of its connections opened for that shop is open; a kefu
is online while any of its connections is. A kefu's load is the number of online users whose
conversation it owns (the assignment's capacity cap counts it). Implementations: presence_memory
(one node) and presence_redis (many nodes).
"""
from __future__ import annotations

from typing import Protocol

from chat_server.connection import Principal


class Presence(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def connect(self, principal: Principal) -> bool:
        """Count a new connection; True when it is the principal's first (it just came online)."""

    async def disconnect(self, principal: Principal) -> tuple[bool, int | None]:
        """Count a closed connection: (was it the last one, the owning kefu of a user going offline)."""

    async def set_owner(self, shop_id: int, user_id: int, kefu_id: int) -> None:
        """Record the owner of an online user's conversation (moves load between kefu)."""

    async def online_kefu(self, shop_id: int) -> dict[int, int]:
        """Online kefu of a shop with their loads."""

    async def is_kefu_online(self, kefu_id: int) -> bool: ...

    async def users_online(self, shop_id: int, user_ids: list[int]) -> set[int]:
        """The subset of `user_ids` online for `shop_id`."""
