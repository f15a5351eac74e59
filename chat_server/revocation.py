"""Closes sockets whose login no longer holds, on every node, the moment it changes:

* `kefu_revoked` (payload: kefu id) — the kefu logged out, or it or its admin account was disabled
  or deleted: its sockets close with 4001;
* `session_replaced` (payload: `user|kefu:<id>:<client>:<tag>`, sql/0003) — a newer login of the
  same principal and client replaced the token: sockets opened with another token close with 4004.

Whoever changes the row NOTIFYs in the same transaction (or a trigger does); each node LISTENs on a
connection of its own, re-opened if it drops.
"""
from __future__ import annotations

import asyncio
import logging

import asyncpg

from chat_server import closecodes, errors
from chat_server.connection import kefu_topic
from chat_server.hub import Hub
from chat_server.tasks import cancel

log = logging.getLogger("kefu.chat.revocation")

REVOKED = "kefu_revoked"
REPLACED = "session_replaced"


class RevocationListener:
    def __init__(self, dsn: str, hub: Hub, retry_delay: float = 1.0):
        self.dsn, self.hub, self.retry_delay = dsn, hub, retry_delay
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()

    def on_revoked(self, _conn, _pid, _channel, payload: str) -> None:
        kefu_id = payload.strip()
        if not kefu_id.isdigit():
            return
        for conn in tuple(self.hub.local(kefu_topic(int(kefu_id)))):
            conn.close_soon(closecodes.AUTH_FAILED, errors.REVOKED)

    def on_replaced(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            role, principal_id, client, tag = payload.split(":")
            principal_id, client = int(principal_id), int(client)
        except ValueError:
            return
        for conn in tuple(self.hub.of_principal(role, principal_id)):
            p = conn.principal
            if p.client == client and p.token_tag != tag:
                conn.close_soon(closecodes.REPLACED, errors.REPLACED)

    async def run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
                log.warning("cannot LISTEN yet (%s); retrying", exc)
                await asyncio.sleep(self.retry_delay)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                await conn.add_listener(REVOKED, self.on_revoked)
                await conn.add_listener(REPLACED, self.on_replaced)
                self.listening.set()
                await lost.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN failed: %s", exc)
            finally:
                self.listening.clear()
                if not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(self.retry_delay)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        await cancel(self._task)
