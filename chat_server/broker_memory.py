"""Broker for a single node: the hub has delivered locally already, so there is no one else to tell."""
from __future__ import annotations

from chat_server.broker import OnMessage, SeqKey


class MemoryBroker:
    async def start(self, on_message: OnMessage) -> None:
        pass

    async def close(self) -> None:
        pass

    async def subscribe(self, topic: str) -> None:
        pass

    async def unsubscribe(self, topic: str) -> None:
        pass

    def publish(self, topic: str, payload: bytes, seq_key: SeqKey = None) -> None:
        pass
