"""A small asyncio client of the chat protocol (spec §2–§4), for load testers and stress tests.

    client = await connect("ws://127.0.0.1:20211/", token, "user", 6, shop_id=1)
    record = await client.send_chat(2, "kefu", "你好")            # waits for the stored echo
    recovered, last_seq = await client.sync(1)                    # replay what was missed
    await client.close()

What it does besides sending frames:

* a receive loop that dispatches frames by `event` to callbacks (`on`) and queues (`queue`);
* per-conversation tracking keyed (shop_id, user_id) in a `Tracker` that outlives one connection
  (pass the same tracker to `connect` after a reconnect): the last contiguous `seq`, the record
  ids seen, counters of gaps and duplicates, and which `client_msg_id`s were echoed;
* `sync` waits for the server's `sync` answer; the replayed `chat` frames go through the same
  tracking;
* on the server's `resync` event (sent after its Redis outage) every tracked conversation is
  re-synced from its last contiguous seq;
* a ping every `ping_interval` seconds, like the real clients.

The protocol does not correlate `error` frames with requests. The server handles one connection's
events strictly in order, so an `error` is attributed to the oldest request still waiting for an
answer; requests with no answer on success (`user_online`, `read`, `typing`) take their place in
that order too, and an `error` at their turn is theirs. When in doubt the client errs towards a
timeout, never towards a false success.

Nothing here imports the services: the client speaks only the wire protocol.
"""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Union

import aiohttp
import orjson

__all__ = ["ChatClient", "ChatClosed", "ChatError", "ConnectRefused", "Conversation", "Tracker", "connect"]

# `after_seq` of a probe `sync`: nothing is after it, so the answer only says "handled up to here".
PROBE_SEQ = 2 ** 62

Callback = Callable[[dict], Union[None, Awaitable[None]]]


class ChatClosed(Exception):
    """The connection is closed; `code` is the WebSocket close code (None when the TCP connection
    just went away) and `message` the last `error` frame's text before it, if any."""

    def __init__(self, code: int | None, message: str | None = None):
        super().__init__(f"connection closed (code {code}){': ' + message if message else ''}")
        self.code, self.message = code, message


class ConnectRefused(ChatClosed):
    """The handshake was refused (4001, 4003, 1013, ...) or did not produce ping + login."""


class ChatError(Exception):
    """The server answered a request with an `error` frame; `message` is its text."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------ tracking

@dataclass
class Conversation:
    """One conversation as one logical client has seen it."""
    shop_id: int
    user_id: int
    last_seq: int = 0                     # every seq 1..last_seq has been received
    max_seq: int = 0                      # highest seq received
    by_seq: dict[int, int] = field(default_factory=dict)   # seq → record id
    gaps: int = 0                         # holes opened: a record arrived with seq > max_seq + 1
    duplicates: int = 0                   # a live frame repeated a record already received live
    conflicts: int = 0                    # one seq with two ids, or one id with two seqs: never legitimate
    replayed: int = 0                     # records received in `sync` replays
    syncing: int = 0                      # syncs of this conversation waiting for their answer
    _seq_of: dict[int, int] = field(default_factory=dict, repr=False)    # record id → seq
    _live: set[int] = field(default_factory=set, repr=False)             # ids first received live

    def missing(self) -> list[int]:
        """Seqs below the highest one received that have not been received."""
        return [s for s in range(self.last_seq + 1, self.max_seq) if s not in self.by_seq]

    def observe(self, record: dict, *, retry_answer: bool = False) -> None:
        rid, seq = record["id"], record["seq"]
        known = self._seq_of.get(rid)
        if known is not None:
            if known != seq:
                self.conflicts += 1
            elif self.syncing:
                self.replayed += 1
            elif rid in self._live and not retry_answer:
                self.duplicates += 1
            return
        if seq in self.by_seq:            # another record with a seq already taken
            self.conflicts += 1
            return
        self._seq_of[rid] = seq
        self.by_seq[seq] = rid
        if self.syncing:
            self.replayed += 1
        else:
            self._live.add(rid)
        if seq > self.max_seq + 1:
            self.gaps += 1
        self.max_seq = max(self.max_seq, seq)
        while self.last_seq + 1 in self.by_seq:
            self.last_seq += 1


class Tracker:
    """What one logical client (one principal, across reconnects) has seen and had acknowledged."""

    def __init__(self) -> None:
        self.conversations: dict[tuple[int, int], Conversation] = {}
        self.acked: dict[str, dict] = {}      # client_msg_id → the stored record echoed for it
        self.sent: set[str] = set()           # client_msg_ids sent (at least once)
        self.retried: set[str] = set()        # client_msg_ids sent more than once

    def conversation(self, shop_id: int, user_id: int, last_seq: int = 0) -> Conversation:
        """The conversation's tracking, created (starting after `last_seq`) if new."""
        key = (shop_id, user_id)
        conv = self.conversations.get(key)
        if conv is None:
            conv = self.conversations[key] = Conversation(shop_id, user_id, last_seq=last_seq, max_seq=last_seq)
        return conv

    def observe(self, record: dict) -> None:
        cmid = record.get("client_msg_id")
        mine = cmid is not None and cmid in self.sent
        self.conversation(record["shop_id"], record["user_id"]).observe(
            record, retry_answer=mine and cmid in self.retried)
        if mine:
            self.acked.setdefault(cmid, record)

    def totals(self) -> dict[str, int]:
        """Sum of every conversation's counters."""
        names = ("gaps", "duplicates", "conflicts", "replayed")
        return {n: sum(getattr(c, n) for c in self.conversations.values()) for n in names}


# ------------------------------------------------------------------------------------ requests

def _future() -> asyncio.Future:
    """A future whose failure nobody has to collect (a request given up on may still be answered)."""
    future = asyncio.get_running_loop().create_future()
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


@dataclass
class _Pending:
    kind: str                               # "chat", "sync" or "silent"
    future: asyncio.Future | None = None
    cmid: str | None = None
    shop_id: int | None = None
    user_id: int | None = None
    conv: Conversation | None = None
    queued: bool = True                     # still in ChatClient._pending


class ChatClient:
    """One WebSocket connection. Create it with `connect()`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession, own_session: bool,
                 tracker: Tracker, ping_interval: float | None, role: str, shop_id: int | None):
        self.ws = ws
        self.role, self.shop_id = role, shop_id
        self.tracker = tracker
        self.close_code: int | None = None
        self.last_error: str | None = None
        self.closed = asyncio.Event()
        self.frames_received = 0
        self._session, self._own_session = session, own_session
        self._pending: deque[_Pending] = deque()
        self._callbacks: dict[str, list[Callback]] = {}
        self._queues: dict[str, list[asyncio.Queue]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._reader: asyncio.Task | None = None
        self._pinger: asyncio.Task | None = None
        self._ping_interval = ping_interval

    # ---------------------------------------------------------------------------- subscriptions

    def on(self, event: str, callback: Callback) -> None:
        """Call `callback(data)` for every frame of `event` (a coroutine function is awaited in a task)."""
        self._callbacks.setdefault(event, []).append(callback)

    def queue(self, event: str, maxsize: int = 0) -> asyncio.Queue:
        """A queue that receives the `data` of every frame of `event` from now on ("*": whole frames
        of every event). A full queue drops the frame rather than stall the receive loop."""
        q: asyncio.Queue = asyncio.Queue(maxsize)
        self._queues.setdefault(event, []).append(q)
        return q

    # ---------------------------------------------------------------------------- sending

    async def send(self, event: str, data: Any = None) -> None:
        """Send one frame as is (nothing waits for an answer)."""
        if self.closed.is_set():
            raise ChatClosed(self.close_code, self.last_error)
        await self.ws.send_str(orjson.dumps({"event": event, "data": data}).decode())

    async def _request(self, pending: _Pending, event: str, data: Any, timeout: float | None,
                       wait: bool = True) -> Any:
        self._pending.append(pending)
        try:
            await self.send(event, data)
        except Exception:
            self._drop(pending)
            raise
        if pending.future is None or not wait:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), timeout)
        finally:
            self._drop(pending)

    def _drop(self, pending: _Pending) -> None:
        # Usually answered (and dequeued) already: checking a flag spares a failing remove(),
        # whose error message would be the repr of the pending request, future and all.
        if pending.queued:
            pending.queued = False
            with contextlib.suppress(ValueError):
                self._pending.remove(pending)
            self._forget(pending)

    @staticmethod
    def _forget(pending: _Pending) -> None:
        if pending.conv is not None:
            pending.conv.syncing -= 1
            pending.conv = None

    async def send_chat(self, to_id: int | str, to_type: str, msg: str | int, msg_type: int = 1,
                        client_msg_id: str | None = None, *, auto_id: bool = True, wait: bool = True,
                        timeout: float | None = 10.0) -> dict | str | None:
        """Send a `chat`. Without `client_msg_id` one is generated (unless `auto_id` is false);
        sending an id again is a retry (the server stores it once and echoes the original).
        With `wait` (needs an id): the stored record echoed back, or ChatError / ChatClosed /
        asyncio.TimeoutError. Without: the client_msg_id sent."""
        if client_msg_id is None and (auto_id or wait):
            client_msg_id = uuid.uuid4().hex
        data: dict[str, Any] = {"msg": msg, "msg_type": msg_type, "to_id": to_id, "to_type": to_type}
        if client_msg_id is not None:
            data["client_msg_id"] = client_msg_id
            if client_msg_id in self.tracker.sent:
                self.tracker.retried.add(client_msg_id)
            self.tracker.sent.add(client_msg_id)
        future = _future() if wait else None
        await self._request(_Pending("chat", future, cmid=client_msg_id), "chat", data, timeout)
        return future.result() if wait else client_msg_id

    async def sync(self, shop_id: int, user_id: int | None = None, after_seq: int | None = None,
                   timeout: float | None = 30.0) -> tuple[bool, int]:
        """Ask for every record after `after_seq` (default: the tracked last contiguous seq) and
        wait for the answer: (recovered, last_seq). The replay runs through the tracking first.
        A buyer may omit `user_id` (its own). recovered=False: too much was missing, nothing was
        replayed; reload history over HTTP."""
        if user_id is not None:
            conv = self.tracker.conversation(shop_id, user_id)
        else:   # a buyer's own conversation with the shop, when it is tracked already
            convs = [c for (s, _), c in self.tracker.conversations.items() if s == shop_id]
            conv = convs[0] if len(convs) == 1 and self.role == "user" else None
        if after_seq is None:
            after_seq = conv.last_seq if conv is not None else 0
        data: dict[str, Any] = {"shop_id": shop_id, "after_seq": after_seq}
        if user_id is not None:
            data["user_id"] = user_id
        future = _future()
        pending = _Pending("sync", future, shop_id=shop_id, user_id=user_id, conv=conv)
        if conv is not None:
            conv.syncing += 1
        answer = await self._request(pending, "sync", data, timeout)
        return bool(answer["recovered"]), int(answer["last_seq"])

    async def send_event(self, event: str, data: Any = None) -> asyncio.Future:
        """Send an event the server answers only when it fails (`user_online`, `read`, `typing`,
        `transfer`), keeping its place in the order errors are attributed in. The returned future
        fails with ChatError if the server refuses the event, and is done with None once the answer
        to a later request shows that it was handled."""
        future = _future()
        await self._request(_Pending("silent", future), event, data, None, wait=False)
        return future

    async def user_online(self, kefu_id: int | str | None = None, *, confirm: bool = True,
                          timeout: float | None = 10.0) -> None:
        """A buyer's "I opened the chat" (the id is a hint). With `confirm`, a probe `sync` follows
        and this returns once the server has handled the event (ChatError if it refused it)."""
        future = await self.send_event("user_online", {} if kefu_id is None else {"kefu_id": kefu_id})
        if confirm:
            await self.sync(self.shop_id or 0, after_seq=PROBE_SEQ, timeout=timeout)
            await asyncio.wait_for(future, timeout)

    async def ping(self) -> None:
        await self.send("ping")

    def track(self, shop_id: int, user_id: int, last_seq: int = 0) -> Conversation:
        """Track a conversation before any of its records arrives (so that `resync` covers it)."""
        return self.tracker.conversation(shop_id, user_id, last_seq)

    async def resync_all(self, timeout: float | None = 30.0) -> dict[tuple[int, int], tuple[bool, int]]:
        """Sync every tracked conversation from its last contiguous seq."""
        results = {}
        for (shop_id, user_id), conv in list(self.tracker.conversations.items()):
            results[(shop_id, user_id)] = await self.sync(shop_id, user_id, conv.last_seq, timeout)
        return results

    # ---------------------------------------------------------------------------- receiving

    async def _read_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.frames_received += 1
                    try:
                        frame = orjson.loads(msg.data)
                        event = frame["event"]
                    except (orjson.JSONDecodeError, TypeError, KeyError):
                        continue   # not a protocol frame; nothing to dispatch
                    self._dispatch(event, frame)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    continue
                else:   # CLOSE, CLOSING, CLOSED, ERROR
                    break
        finally:
            self.close_code = ws.close_code
            self.closed.set()
            error = ChatClosed(self.close_code, self.last_error)
            for pending in self._pending:
                if pending.future is not None and not pending.future.done():
                    pending.future.set_exception(error)

    def _dispatch(self, event: str, frame: dict) -> None:
        data = frame.get("data")
        if event == "chat" and isinstance(data, dict):
            self._on_chat(data)
        elif event == "sync" and isinstance(data, dict):
            self._on_sync(data)
        elif event == "error" and isinstance(data, dict):
            self.last_error = data.get("msg")
            self._on_error(self.last_error or "")
        elif event == "resync":
            self._spawn(self._resync())
        for callback in self._callbacks.get(event, ()):
            result = callback(data)
            if asyncio.iscoroutine(result):
                self._spawn(result)
        for q in self._queues.get(event, ()):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(data)
        for q in self._queues.get("*", ()):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(frame)

    def _on_chat(self, record: dict) -> None:
        if "seq" in record and "id" in record:
            self.tracker.observe(record)
        cmid = record.get("client_msg_id")
        if cmid is None:
            return
        for index, pending in enumerate(self._pending):
            if pending.kind == "chat" and pending.cmid == cmid:
                self._settle(index, pending, result=record)
                return

    def _on_sync(self, answer: dict) -> None:
        for index, pending in enumerate(self._pending):
            if (pending.kind == "sync" and pending.shop_id == answer.get("shop_id")
                    and pending.user_id in (None, answer.get("user_id"))):
                self._settle(index, pending, result=answer)
                return

    def _on_error(self, message: str) -> None:
        if self._pending:
            self._settle(0, self._pending[0], error=ChatError(message))

    def _settle(self, index: int, pending: _Pending, result: Any = None, error: Exception | None = None) -> None:
        """Answer request `index`; the requests before it were handled (silently) already."""
        for _ in range(index):
            earlier = self._pending.popleft()
            earlier.queued = False
            self._forget(earlier)
            if earlier.future is not None and not earlier.future.done():
                if earlier.kind == "silent":
                    earlier.future.set_result(None)
                else:   # e.g. a retry whose original is gone: the server answered nothing
                    earlier.future.set_exception(ChatError("no answer before a later request's"))
        self._pending.popleft().queued = False
        self._forget(pending)
        future = pending.future
        if future is not None and not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    async def _resync(self) -> None:
        with contextlib.suppress(ChatClosed, ChatError, asyncio.TimeoutError):
            await self.resync_all()

    def _spawn(self, coro: Awaitable) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ping_loop(self, interval: float) -> None:
        with contextlib.suppress(ChatClosed, ConnectionError, RuntimeError):
            while not self.closed.is_set():
                await asyncio.sleep(interval)
                await self.ping()

    # ---------------------------------------------------------------------------- lifecycle

    def _start(self) -> None:
        self._reader = asyncio.ensure_future(self._read_loop())
        if self._ping_interval:
            self._pinger = asyncio.ensure_future(self._ping_loop(self._ping_interval))

    async def wait_closed(self, timeout: float | None = None) -> int | None:
        """Wait until the server (or the network) closes the connection; its close code."""
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    async def close(self, code: int = 1000) -> None:
        """Close the connection and stop every task this client started."""
        for task in (self._pinger, *self._tasks):
            if task is not None:
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code), 5)
        if self._reader is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)
        await asyncio.gather(*(t for t in (self._pinger, *self._tasks) if t is not None), return_exceptions=True)
        if self._own_session:
            await self._session.close()


def _url(base: str, token: str, role: str, client: int, shop_id: int | None) -> str:
    # Unencoded, as the likeshop clients build it.
    query = f"token={token}&type={role}&client={client}"
    if shop_id is not None:
        query += f"&shop_id={shop_id}"
    return base + ("&" if "?" in base else "?") + query


async def connect(url: str, token: str, role: str, client: int, shop_id: int | None = None, *,
                  session: aiohttp.ClientSession | None = None, tracker: Tracker | None = None,
                  ping_interval: float | None = 10.0, timeout: float = 10.0) -> ChatClient:
    """Open a connection (`url`: the ws_domain, e.g. "ws://127.0.0.1:20211/") and return once the
    server's ping + login greeting arrived; ConnectRefused (with the close code and the `error`
    frame's message) otherwise. `session`: share one among many clients (otherwise the client owns
    one). `tracker`: continue the tracking of an earlier connection of the same principal."""
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(_url(url, token, role, client, shop_id), autoping=True, heartbeat=None,
                                      timeout=aiohttp.ClientWSTimeout(ws_close=5), max_msg_size=0)
    except BaseException:
        if own:
            await session.close()
        raise
    try:
        greeting, error = [], None
        async with asyncio.timeout(timeout):
            while len(greeting) < 2:
                msg = await ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise ConnectRefused(ws.close_code, error)
                frame = orjson.loads(msg.data)
                if frame.get("event") == "error":
                    error = (frame.get("data") or {}).get("msg")
                    continue
                greeting.append(frame.get("event"))
        if greeting != ["ping", "login"]:
            raise ConnectRefused(ws.close_code, f"unexpected greeting {greeting}")
    except BaseException as exc:
        await ws.close()
        if own:
            await session.close()
        if isinstance(exc, asyncio.TimeoutError):
            raise ConnectRefused(None, "no greeting within the timeout") from None
        raise
    chat = ChatClient(ws, session, own, tracker or Tracker(), ping_interval, role, shop_id)
    chat._start()
    return chat
