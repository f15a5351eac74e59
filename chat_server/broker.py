"""The fan-out seam: how a frame published on a topic reaches the nodes holding its subscribers.

Topics name the connections of one principal (`u:<shop>:<user>`, `k:<kefu>`; see connection.py).
A node subscribes to a topic while it holds at least one connection on it. Implementations:
broker_memory (one node, no Redis) and broker_redis (many nodes). Picked by `REDIS_URL`.
"""
from __future__ import annotations

from typing import Callable, Protocol

OnMessage = Callable[[str, bytes], None]


class Broker(Protocol):
    async def start(self, on_message: OnMessage) -> None:
        """Begin delivering messages of subscribed topics to `on_message(topic, payload)`."""

    async def close(self) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None:
        """Deliver `payload` to the subscribers of `topic` on every *other* node."""
