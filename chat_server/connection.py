"""One authenticated WebSocket connection and its bounded outbound queue.

`send()` never blocks and never awaits: it appends to the connection's queue and, for the first
frame, schedules a flush at the end of this turn of the event loop. The flush writes every frame
queued by then in one `transport.write` (one system call for a burst, not one per frame). While
the peer is not reading (the transport's buffer is past its high-water mark) frames stay queued;
a connection whose queue passes its bound (frames or bytes) is a slow consumer: it is closed with
4009, so that one slow socket never stalls the others or grows memory without bound. Idle
connections hold no queue and no task.

Frames are framed here rather than by aiohttp's writer so that a burst costs one write. So is the
close frame of a close the server decides (`close`): after what was queued (bounded), then the read
loop waits for the peer's answering close frame before the TCP connection ends (RFC 6455's closing
handshake), at most CLOSE_TIMEOUT. aiohttp's own close, called beside a pending `receive`, ends
the TCP connection at once: clients then report 1006 instead of the code, and a reset can even
destroy the close frame before the client reads it.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import struct
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from chat_server import closecodes
from chat_server.closecodes import CloseCode
from chat_server.protocol import message_frame

log = logging.getLogger("kefu.chat.conn")

_ids = itertools.count(1)

SeqKey = tuple[int, int, int] | None   # (shop_id, user_id, seq) of a chat record frame

# How long a socket the server closed waits for the peer's answering close frame; then the TCP
# connection is cut (a peer that stopped reading never answers, and holds its buffers until then).
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is on the other end. For a user, shop_id is the shop the socket was opened for; for a
    kefu, its own shop (from its `kefu` row, never from the query string)."""
    role: str            # "user" | "kefu"
    id: int
    shop_id: int
    client: int
    nickname: str
    avatar: str
    token_tag: str = ""  # md5(token)[:12]: tells this login from a newer one (close 4004)
    # The session row the socket rests on (`session` for a user, `kefu_session` for a kefu) and
    # its expiry when the socket opened (unix seconds): the socket closes when it ends (revocation.py).
    session_id: int = 0
    expires_at: float = 0.0
    # The fan-out topic of this principal's connections (see hub): built once, it is used on
    # every message, and the hub's index shares this string.
    topic: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic", user_topic(self.shop_id, self.id) if self.role == "user"
                           else kefu_topic(self.id))


_HEADER_7, _HEADER_16, _HEADER_64 = (struct.Struct(f).pack for f in ("!BB", "!BBH", "!BBQ"))


def _frame_header(length: int) -> bytes:
    """RFC 6455 header of one unmasked, final text frame (servers never mask)."""
    if length < 126:
        return _HEADER_7(0x81, length)
    if length < 65536:
        return _HEADER_16(0x81, 126, length)
    return _HEADER_64(0x81, 127, length)


def _close_frame(code: CloseCode) -> bytes:
    body = struct.pack("!H", code.code) + code.reason.encode()
    return bytes((0x88, len(body))) + body   # every reason is far below 126 bytes


def token_tag(token: str) -> str:
    return hashlib.md5(token.encode()).hexdigest()[:12]


def user_topic(shop_id: int, user_id: int) -> str:
    return f"u:{shop_id}:{user_id}"


def kefu_topic(kefu_id: int) -> str:
    return f"k:{kefu_id}"


class Connection:
    __slots__ = ("id", "ws", "principal", "last_seen", "closing", "_queue", "_queued_bytes", "_waiter",
                 "_transport", "_protocol", "max_frames", "max_bytes", "typing_at", "inbox", "worker", "held",
                 "replayed", "bucket", "strikes", "known", "_loop", "close_sent", "__weakref__")

    def __init__(self, ws: web.WebSocketResponse, principal: Principal, request: web.BaseRequest, *,
                 max_frames: int, max_bytes: int):
        self.id = next(_ids)
        self.ws = ws
        self.principal = principal
        self._transport = request.transport
        self._protocol = request.protocol
        self.last_seen = time.monotonic()
        self.closing = False
        self.close_sent = False  # our close frame is out: the peer's answer ends the connection
        # The queue exists only while it holds something: an idle connection carries none.
        self._queue: list[bytes] | None = None
        self._queued_bytes = 0
        # Waits for the peer to read again (only while the transport is paused).
        self._waiter: asyncio.Task | None = None
        # asyncio.get_running_loop() costs a getpid() system call on Python 3.11: look it up once.
        self._loop = asyncio.get_running_loop()
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.typing_at = 0.0     # when this connection last had a typing frame forwarded
        # Client events waiting to be handled in order, and the task handling them (while any).
        self.inbox: deque | None = None
        self.worker: asyncio.Task | None = None
        # While a `sync` replay is being fetched, frames wait here so that none overtakes it.
        self.held: list[tuple[bytes, SeqKey]] | None = None
        # Per conversation, the highest seq a `sync` replayed: a live frame at or below it is a
        # frame this client already has.
        self.replayed: dict[tuple[int, int], int] | None = None
        self.bucket = None       # this connection's frame-rate bucket (limits.py), if limited
        self.strikes = 0         # frames refused by the rate limit
        # Conversations this connection has seen exist (they are never deleted): a buyer's owner
        # by shop, a kefu's buyers. Spares a query per message.
        self.known: dict[int, int] | None = None

    def __repr__(self) -> str:
        p = self.principal
        return f"<Connection {self.id} {p.role}:{p.id} shop {p.shop_id}>"

    def send(self, payload: bytes, seq_key: SeqKey = None) -> None:
        """Queue a text frame. Overflowing the bound closes the connection as a slow consumer.
        `seq_key` (shop, user, seq) marks a chat record, so that it is not sent twice around a sync."""
        if self.closing:
            return
        if seq_key is not None and self.replayed is not None:
            mark = self.replayed.get((seq_key[0], seq_key[1]))
            if mark is not None and seq_key[2] <= mark:
                return
        if self.held is not None:
            if len(self.held) >= self.max_frames:
                self.close_soon(closecodes.SLOW_CONSUMER)
                return
            self.held.append((payload, seq_key))
            return
        queue = self._queue
        if queue is None:
            self._queue = queue = []
            if self._waiter is None:
                self._loop.call_soon(self._flush)
        elif len(queue) >= self.max_frames or self._queued_bytes + len(payload) > self.max_bytes:
            log.warning("%r: outbound queue full (%d frames, %d bytes); closing as slow consumer",
                        self, len(queue), self._queued_bytes)
            self.close_soon(closecodes.SLOW_CONSUMER)
            return
        queue.append(payload)
        self._queued_bytes += len(payload)

    def hold(self) -> None:
        """Keep new frames back (a sync replay is being fetched)."""
        if self.held is None:
            self.held = []

    def release(self) -> None:
        """Send the frames kept back, minus those the replay already covered."""
        held, self.held = self.held, None
        for payload, seq_key in held or ():
            self.send(payload, seq_key)

    def mark_replayed(self, shop_id: int, user_id: int, seq: int) -> None:
        if self.replayed is None:
            self.replayed = {}
        if seq > self.replayed.get((shop_id, user_id), 0):
            self.replayed[(shop_id, user_id)] = seq

    def _flush(self) -> None:
        """Write everything queued, as one write; or, while the peer is not reading, wait for it."""
        queue = self._queue
        if queue is None:
            return
        transport = self._transport
        if transport is None or transport.is_closing() or self.ws.closed:
            self._queue = None   # the peer went away: the read loop sees it and unregisters us
            self._queued_bytes = 0
            return
        if self._protocol.writing_paused:
            if self._waiter is None:
                self._waiter = self._loop.create_task(self._wait_writable())
            return
        self._queue = None
        self._queued_bytes = 0
        if len(queue) == 1:
            transport.write(_frame_header(len(queue[0])) + queue[0])
        else:
            transport.write(b"".join([part for payload in queue for part in (_frame_header(len(payload)), payload)]))

    async def _wait_writable(self) -> None:
        try:
            # aiohttp's protocol resolves this when the transport drops below its low-water mark.
            await self._protocol._drain_helper()
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            self._queue = None
            self._queued_bytes = 0
            return
        finally:
            self._waiter = None
        self._flush()

    async def flush(self, timeout: float) -> None:
        """Wait (bounded) until everything queued so far has been written."""
        if self._waiter is None:
            self._flush()
        waiter = self._waiter
        if waiter is not None:
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
            except (asyncio.TimeoutError, Exception):
                pass

    def close_soon(self, code: CloseCode, message: str | None = None) -> None:
        """Close from anywhere without awaiting: an optional error frame, then the close frame."""
        if self.closing:
            return
        self._loop.create_task(self.close(code, message))

    async def close(self, code: CloseCode, message: str | None = None, flush_timeout: float = 1.0) -> None:
        """The server closes: the `error` frame saying why (if any) and what was queued before it
        leave first, waiting at most `flush_timeout` for a peer that is not reading (not at all for
        a slow consumer: that is why it is closed); what is still queued then is dropped, and the
        close frame is written. The read loop then waits for the peer's answer (`answered`)."""
        if self.closing:
            return
        if message:
            self.held = None   # a sync being fetched no longer matters; the error frame must not wait
            self.send(message_frame("error", message))
        self.closing = True
        if code is not closecodes.SLOW_CONSUMER:
            await self.flush(flush_timeout)
        self._queue = None
        self._queued_bytes = 0
        transport = self._transport
        if transport is None or transport.is_closing() or self.ws.closed:
            return   # already gone: nothing left to tell it
        transport.write(_close_frame(code))
        self.close_sent = True
        self._loop.call_later(CLOSE_TIMEOUT, _cut, transport)

    async def answered(self) -> None:
        """The peer's close frame arrived. If it answers ours the closing handshake is complete:
        aiohttp, which never saw ours, must neither answer nor send one of its own when the
        handler ends, only drop the connection. Otherwise the peer closes first: answer it."""
        if self.close_sent:
            self.ws._closed = True   # aiohttp has no public "close frame already sent" state
        else:
            self.closing = True
            await self.ws.close(drain=False)


def _cut(transport: asyncio.BaseTransport) -> None:
    if not transport.is_closing():
        transport.abort()
