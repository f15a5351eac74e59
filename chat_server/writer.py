"""The write path: group commit.

Senders hand their message to `MessageWriter.submit()` and get a future (`store()` waits on it;
a connection may have several in flight). One writer task takes everything queued (up to
`max_batch`), stores it with one statement in one transaction (`conversations.store_messages`:
`chat_store_batch`, sql/0005), and answers every sender in commit order: the order the messages
were queued. While a batch is being committed the next one fills up, so the number of
transactions grows with load far slower than the number of messages; each sender still gets its
answer only once its record is durable.

A lone message is stored by the single-message statement (cheaper for one), and so, one at a
time, are the messages of a batch holding a notice (type 2; transfers store theirs themselves, so
in practice never). A batch that fails as a whole on a race the statement cannot see (two nodes
inserting the same client_msg_id at once) is retried one message per statement, so that only the
duplicate fails. The statement creates or locks a batch's conversation rows in (shop, buyer)
order before touching any of them twice, so concurrent batches of several nodes never deadlock.
With group commit off, every message is its own statement and transaction.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque

import asyncpg

from chat_server.data import conversations
from chat_server.data.conversations import DuplicateMessage, NewMessage
from chat_server.tasks import cancel

log = logging.getLogger("kefu.chat.writer")

_Item = tuple[NewMessage, int, asyncio.Future]


class MessageWriter:
    def __init__(self, pool: asyncpg.Pool, *, enabled: bool = True, max_batch: int = 256, max_wait: float = 0.0):
        self.pool = pool
        self.enabled = enabled
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        self.messages = 0

    def submit(self, message: NewMessage, owner_if_new: int) -> asyncio.Future:
        """Queue a message without waiting. The future resolves to (record, {"kefu_id": owner})
        once the record is durable, or fails with DuplicateMessage for a retried client_msg_id,
        or with the database's error. With group commit on, futures resolve in commit order."""
        if not self.enabled:
            return self._loop.create_task(conversations.store_message(self.pool, message, owner_if_new))
        future = self._loop.create_future()
        self._queue.append((message, owner_if_new, future))
        self._wakeup.set()
        return future

    async def store(self, message: NewMessage, owner_if_new: int) -> tuple[dict, dict]:
        """`submit`, then wait for the answer."""
        return await self.submit(message, owner_if_new)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    async def stop(self, timeout: float = 10) -> None:
        """Store what was accepted, then stop."""
        if self._task is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._queue and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await cancel(self._task)
        for _, _, future in self._queue:
            if not future.done():
                future.set_exception(ConnectionError("server stopping"))
        self._queue.clear()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            if self.max_wait and len(self._queue) < self.max_batch:
                await asyncio.sleep(self.max_wait)
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]
            if not self._queue:
                self._wakeup.clear()
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Item]) -> None:
        if len(batch) == 1 or any(message.type != conversations.NORMAL for message, _, _ in batch):
            await self._one_by_one(batch)
            return
        try:
            results = await conversations.store_messages(self.pool, [(message, owner) for message, owner, _ in batch])
        except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
            # a duplicate raced in from another node (or, defensively, a deadlock): only the
            # message at fault should fail
            await self._one_by_one(batch)
            return
        except Exception as exc:   # the database is down, or worse: every sender learns it
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.messages += len(batch)
        for (_, _, future), result in zip(batch, results):
            if future.done():
                continue
            if result is None:
                future.set_exception(DuplicateMessage())
            else:
                future.set_result(result)

    async def _one_by_one(self, batch: list[_Item]) -> None:
        for message, owner, future in batch:
            try:
                result = await conversations.store_message(self.pool, message, owner)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)
