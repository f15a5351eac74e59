"""Client of the commerce API's internal endpoints (user, order and goods context), with a short
timeout and a small TTL cache: when the commerce API is slow or down, callers get a clear
`CommerceUnavailable` quickly and chat itself keeps working."""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

import aiohttp
import orjson


class CommerceUnavailable(Exception):
    """The commerce API did not answer in time, or answered garbage."""


class CommerceError(Exception):
    """The commerce API answered with a business error (code 0): its message is in args[0]."""


class TTLCache:
    def __init__(self, ttl: float, max_items: int):
        self.ttl, self.max_items = ttl, max_items
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any:
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        self._items[key] = (time.monotonic() + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)


class CommerceClient:
    def __init__(self, base_url: str, internal_key: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self._headers = {"X-Internal-Key": internal_key}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.goods_cache = TTLCache(ttl=30, max_items=10_000)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout,
                                              json_serialize=lambda v: orjson.dumps(v).decode())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        assert self._session is not None, "CommerceClient.start() not called"
        query = {k: str(v) for k, v in params.items() if v is not None}
        try:
            async with self._session.get(self.base_url + path, params=query) as resp:
                body = orjson.loads(await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError, OSError) as exc:
            raise CommerceUnavailable(type(exc).__name__) from None
        if not isinstance(body, dict) or "code" not in body:
            raise CommerceUnavailable("unexpected answer")
        if body["code"] != 1:
            raise CommerceError(body.get("msg") or "commerce API error")
        return body.get("data")

    async def goods_card(self, goods_id: int) -> dict | None:
        """{id, name, image, min_price, shop_id, status, del, audit_status} or None if no such goods."""
        card = self.goods_cache.get(goods_id)
        if card is None:
            data = await self._get("/internal/goods/cards", {"ids": goods_id})
            card = (data or {}).get(str(goods_id)) or False
            self.goods_cache.put(goods_id, card)
        return card or None

    async def user_info(self, user_id: int) -> dict:
        return await self._get("/internal/user/info", {"user_id": user_id})

    async def user_orders(self, user_id: int, shop_id: int | None, order_sn: str | None,
                          page_no: int, page_size: int) -> dict:
        return await self._get("/internal/user/orders", {"user_id": user_id, "shop_id": shop_id,
                                                         "order_sn": order_sn or None, "page_no": page_no,
                                                         "page_size": page_size})
