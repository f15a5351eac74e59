"""Broker for many nodes: Redis pub/sub, one channel per topic.

Why pub/sub rather than streams: chat frames are already durable in Postgres before they are
published, and every client heals a gap with `sync` (by seq), so the fan-out layer needs to be
fast and ordered, not durable. Pub/sub gives one round trip per publish and no per-message memory
in Redis; streams would store every frame a second time and need trimming.

Each node delivers to its own connections directly (hub) and publishes with its node id in front,
so that its subscription skips what it already delivered. When Redis is unreachable, publishing
fails quietly (local delivery already happened), the subscriber reconnects with backoff and
re-subscribes to every topic the node holds, then calls `on_reconnect` so that the node can tell
its clients to `sync` what they may have missed.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Awaitable, Callable, Iterable

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, TimeoutError as RedisTimeoutError

from chat_server.broker import OnMessage

log = logging.getLogger("kefu.chat.broker")

CHANNEL_PREFIX = "kefu:"
NODE_ID_LEN = 16


class RedisBroker:
    def __init__(self, url: str, topics: Callable[[], Iterable[str]],
                 on_reconnect: Callable[[], Awaitable[None]] | None = None, node_id: str | None = None):
        self.url = url
        self.node_id = (node_id or secrets.token_hex(NODE_ID_LEN // 2)).encode()
        assert len(self.node_id) == NODE_ID_LEN
        self._topics = topics              # the topics this node holds now (for re-subscribing)
        self._on_reconnect = on_reconnect
        self._client: redis.Redis | None = None
        self._pubsub = None
        self._on_message: OnMessage | None = None
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self.publish_failures = 0

    async def start(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2,
                                            health_check_interval=10)
        self._task = asyncio.get_running_loop().create_task(self._listen_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._client is not None:
            await self._client.aclose()

    async def subscribe(self, topic: str) -> None:
        if self._pubsub is not None and self.connected.is_set():
            try:
                await self._pubsub.subscribe(CHANNEL_PREFIX + topic)
            except RedisError:
                pass   # the listener notices, reconnects and re-subscribes everything held

    async def unsubscribe(self, topic: str) -> None:
        if self._pubsub is not None and self.connected.is_set():
            try:
                await self._pubsub.unsubscribe(CHANNEL_PREFIX + topic)
            except RedisError:
                pass

    async def publish(self, topic: str, payload: bytes) -> None:
        """For the other nodes; this node has delivered locally already."""
        try:
            await self._client.publish(CHANNEL_PREFIX + topic, self.node_id + payload)
        except RedisError as exc:
            self.publish_failures += 1
            if self.publish_failures == 1 or self.publish_failures % 1000 == 0:
                log.warning("publish to Redis failed (%d so far): %s", self.publish_failures, exc)

    async def _listen_forever(self) -> None:
        delay = 0.1
        first = True
        while True:
            try:
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                held = [CHANNEL_PREFIX + t for t in self._topics()]
                # A pubsub connection needs one subscription before it can listen.
                await self._pubsub.subscribe(CHANNEL_PREFIX + "_node:" + self.node_id.decode(), *held)
                self.connected.set()
                delay = 0.1
                if not first and self._on_reconnect is not None:
                    await self._on_reconnect()
                first = False
                await self._pump()
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, RedisError, OSError) as exc:
                if self.connected.is_set():
                    log.warning("Redis subscription lost (%s); reconnecting", exc)
            self.connected.clear()
            if self._pubsub is not None:
                try:
                    await self._pubsub.aclose()
                except Exception:
                    pass
                self._pubsub = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _pump(self) -> None:
        prefix_len = len(CHANNEL_PREFIX)
        own = self.node_id
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            if data[:NODE_ID_LEN] == own:
                continue
            channel = message["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else channel)[prefix_len:]
            self._on_message(topic, data[NODE_ID_LEN:])
