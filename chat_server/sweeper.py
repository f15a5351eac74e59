"""Closes connections that sent nothing for the idle limit (half-open TCP connections pile up
otherwise). A timing wheel of one-second buckets: activity only updates `last_seen`; each tick
looks at the connections whose deadline falls in that second and re-files the ones that were
active meanwhile, so each connection costs O(1) per idle period however many there are."""
from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections import defaultdict

from chat_server import closecodes
from chat_server.connection import Connection
from chat_server.tasks import cancel


class IdleSweeper:
    def __init__(self, idle_timeout: float):
        self.idle_timeout = idle_timeout
        self._buckets: defaultdict[int, weakref.WeakSet[Connection]] = defaultdict(weakref.WeakSet)
        self._task: asyncio.Task | None = None
        self.closed_total = 0

    def track(self, conn: Connection) -> None:
        self._file(conn)

    def _file(self, conn: Connection) -> None:
        self._buckets[math.ceil(conn.last_seen + self.idle_timeout)].add(conn)

    def sweep(self, now: float) -> None:
        for second in [s for s in self._buckets if s <= now]:
            for conn in tuple(self._buckets.pop(second)):
                if conn.closing or conn.ws.closed:
                    continue
                if now - conn.last_seen >= self.idle_timeout:
                    self.closed_total += 1
                    conn.close_soon(closecodes.IDLE)
                else:
                    self._file(conn)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.sweep(time.monotonic())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        await cancel(self._task)
