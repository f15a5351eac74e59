"""The fan-out seam: how a frame published on a topic reaches the nodes holding its subscribers.

Topics name the connections of one principal (`u:<shop>:<user>`, `k:<kefu>`; see connection.py).
A node subscribes to a topic while it holds at least one connection on it. Implementations:
broker_memory (one node, no Redis) and broker_redis (many nodes). Picked by `REDIS_URL`.
"""
from __future__ import annotations

from typing import Callable, Protocol

SeqKey = tuple[int, int, int] | None
OnMessage = Callable[[str, bytes, SeqKey], None]


class Broker(Protocol):
    async def start(self, on_message: OnMessage) -> None:
        """Begin delivering messages of subscribed topics to `on_message(topic, payload, seq_key)`."""

    async def close(self) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    def publish(self, topic: str, payload: bytes, seq_key: SeqKey = None) -> None:
        """Deliver `payload` to the subscribers of `topic` on every *other* node, in call order.
        Must not block: queue it if the transport needs to wait."""
