"""Presence for a single node, in dictionaries."""
from __future__ import annotations

from collections import Counter, defaultdict

from chat_server.connection import Principal


class MemoryPresence:
    def __init__(self) -> None:
        self._users: Counter[tuple[int, int]] = Counter()          # (shop, user) → connections
        self._kefu: Counter[int] = Counter()                        # kefu → connections
        self._kefu_shop: dict[int, int] = {}
        self._shop_kefu: defaultdict[int, set[int]] = defaultdict(set)
        self._owner: dict[tuple[int, int], int] = {}                # online (shop, user) → kefu
        self._load: Counter[int] = Counter()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def connect(self, principal: Principal) -> bool:
        if principal.role == "user":
            key = (principal.shop_id, principal.id)
            self._users[key] += 1
            return self._users[key] == 1
        self._kefu[principal.id] += 1
        self._kefu_shop[principal.id] = principal.shop_id
        self._shop_kefu[principal.shop_id].add(principal.id)
        return self._kefu[principal.id] == 1

    async def disconnect(self, principal: Principal) -> tuple[bool, int | None]:
        if principal.role == "user":
            key = (principal.shop_id, principal.id)
            self._users[key] -= 1
            if self._users[key] > 0:
                return False, None
            del self._users[key]
            owner = self._owner.pop(key, None)
            if owner is not None:
                self._load[owner] -= 1
            return True, owner
        self._kefu[principal.id] -= 1
        if self._kefu[principal.id] > 0:
            return False, None
        del self._kefu[principal.id]
        self._shop_kefu[principal.shop_id].discard(principal.id)
        self._kefu_shop.pop(principal.id, None)
        return True, None

    async def set_owner(self, shop_id: int, user_id: int, kefu_id: int) -> None:
        key = (shop_id, user_id)
        if key not in self._users:
            return
        old = self._owner.get(key)
        if old == kefu_id:
            return
        if old is not None:
            self._load[old] -= 1
        self._owner[key] = kefu_id
        self._load[kefu_id] += 1

    async def online_kefu(self, shop_id: int) -> dict[int, int]:
        return {k: self._load[k] for k in self._shop_kefu.get(shop_id, ())}

    async def is_kefu_online(self, kefu_id: int) -> bool:
        return kefu_id in self._kefu

    async def users_online(self, shop_id: int, user_ids: list[int]) -> set[int]:
        return {u for u in user_ids if (shop_id, u) in self._users}
