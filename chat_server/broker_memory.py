"""Broker for a single node: the hub has delivered locally already, so there is no one else to tell."""
from __future__ import annotations

from chat_server.broker import OnMessage


class MemoryBroker:
    def __init__(self) -> None:
        self._on_message: OnMessage | None = None

    async def start(self, on_message: OnMessage) -> None:
        self._on_message = on_message

    async def close(self) -> None:
        self._on_message = None

    async def subscribe(self, topic: str) -> None:
        pass

    async def unsubscribe(self, topic: str) -> None:
        pass

    async def publish(self, topic: str, payload: bytes) -> None:
        pass
