"""Broker for many nodes: Redis pub/sub, one channel per topic.

Why pub/sub rather than streams: chat frames are already durable in Postgres before they are
published, and every client heals a gap with `sync` (by seq), so the fan-out layer needs to be
fast and ordered, not durable. Pub/sub gives one round trip per publish and no per-message memory
in Redis; streams would store every frame a second time and need trimming.

Each node delivers to its own connections directly (hub) and publishes with its node id in front,
so that its subscription skips what it already delivered. Publishing never waits: frames go into a
queue that one task sends in pipelined batches over one connection, which keeps them in commit
order (Redis delivers a connection's publishes in order) and costs one round trip per batch.
When Redis is unreachable, queued frames are dropped (local delivery already happened), the
subscriber reconnects with backoff and re-subscribes to every topic the node holds, then calls
`on_reconnect` so that the node can tell its clients to `sync` what they may have missed.

Wire format: node id (16 bytes), then "shop:user:seq" for a chat record (empty otherwise), "\n",
then the frame as the clients get it.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from typing import Awaitable, Callable, Iterable

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, TimeoutError as RedisTimeoutError

from chat_server.broker import OnMessage, SeqKey
from chat_server.tasks import cancel

log = logging.getLogger("kefu.chat.broker")

CHANNEL_PREFIX = "kefu:"
NODE_ID_LEN = 16
MAX_PENDING = 100_000     # frames waiting for Redis; beyond this (Redis stuck) the oldest are dropped
PUBLISH_BATCH = 512


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
        self._publisher: asyncio.Task | None = None
        self._pending: deque[tuple[str, bytes]] = deque(maxlen=MAX_PENDING)
        self._pending_ready = asyncio.Event()
        self.connected = asyncio.Event()
        self.publish_failures = 0

    async def start(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2,
                                            health_check_interval=10)
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._listen_forever())
        self._publisher = loop.create_task(self._publish_forever())

    async def close(self) -> None:
        for task in (self._task, self._publisher):
            await cancel(task)
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

    def publish(self, topic: str, payload: bytes, seq_key: SeqKey = None) -> None:
        """For the other nodes; this node has delivered locally already."""
        header = b"%d:%d:%d" % seq_key if seq_key is not None else b""
        self._pending.append((CHANNEL_PREFIX + topic, self.node_id + header + b"\n" + payload))
        self._pending_ready.set()

    async def _publish_forever(self) -> None:
        while True:
            await self._pending_ready.wait()
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), PUBLISH_BATCH))]
            if not self._pending:
                self._pending_ready.clear()
            try:
                pipe = self._client.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                await pipe.execute()
            except RedisError as exc:
                self.publish_failures += len(batch)
                if self.publish_failures == len(batch) or self.publish_failures % 1000 < len(batch):
                    log.warning("publish to Redis failed (%d frames so far): %s", self.publish_failures, exc)

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
            newline = data.index(b"\n", NODE_ID_LEN)
            header = data[NODE_ID_LEN:newline]
            seq_key = tuple(int(x) for x in header.split(b":")) if header else None
            self._on_message(topic, data[newline + 1:], seq_key)
