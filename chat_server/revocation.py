"""Closes a kefu's sockets the moment its token is logged out or the kefu (or its admin) is
disabled or deleted, on every node: whoever changes it NOTIFYs `kefu_revoked` with the kefu id in
the same transaction, and each node LISTENs on a connection of its own (re-opened if it drops)."""
from __future__ import annotations

import asyncio
import logging

import asyncpg

from chat_server import closecodes, errors
from chat_server.connection import kefu_topic
from chat_server.hub import Hub

log = logging.getLogger("kefu.chat.revocation")

CHANNEL = "kefu_revoked"


class RevocationListener:
    def __init__(self, dsn: str, hub: Hub, retry_delay: float = 1.0):
        self.dsn, self.hub, self.retry_delay = dsn, hub, retry_delay
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()

    def on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        kefu_id = payload.strip()
        if not kefu_id.isdigit():
            return
        for conn in tuple(self.hub.local(kefu_topic(int(kefu_id)))):
            conn.close_soon(closecodes.AUTH_FAILED, errors.REVOKED)

    async def run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
                log.warning("cannot LISTEN %s yet (%s); retrying", CHANNEL, exc)
                await asyncio.sleep(self.retry_delay)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c: lost.set())
            try:
                await conn.add_listener(CHANNEL, self.on_notify)
                self.listening.set()
                await lost.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN %s failed: %s", CHANNEL, exc)
            finally:
                self.listening.clear()
                if not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(self.retry_delay)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Whatever it was doing when cancelled (a LISTEN half-set-up, a sleep) no longer matters.
            await asyncio.gather(self._task, return_exceptions=True)
