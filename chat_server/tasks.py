"""Background tasks the node must finish before it stops (a connection's unregistration, the events
a client already sent): spawned here so that shutdown can wait for them, bounded, before the
database pool closes."""
from __future__ import annotations

import asyncio
from typing import Coroutine


class Tasks:
    def __init__(self) -> None:
        self._running: set[asyncio.Task] = set()
        self.loop = asyncio.get_running_loop()   # once: the lookup is a system call on 3.11

    def spawn(self, coro: Coroutine) -> asyncio.Task:
        task = self.loop.create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Wait until every task (including ones spawned meanwhile) is done, at most `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._running and loop.time() < deadline:
            await asyncio.wait(tuple(self._running), timeout=deadline - loop.time())

    def __len__(self) -> int:
        return len(self._running)


async def cancel(task: asyncio.Task | None) -> None:
    """Stop a background loop: whatever it was doing when cancelled (a sleep, a LISTEN half set up,
    a Redis read) no longer matters, so its outcome is swallowed."""
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
