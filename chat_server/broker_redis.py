"""Broker for many nodes: Redis pub/sub, one channel per topic.

Why pub/sub rather than streams: chat frames are already durable in Postgres before they are
published, and every client heals a gap with `sync` (by seq), so the fan-out layer needs to be
fast and ordered, not durable. Pub/sub gives one round trip per publish and no per-message memory
in Redis; streams would store every frame a second time and need trimming.

Each node delivers to its own connections directly (hub) and publishes with its node id in front,
so that its subscription skips what it already delivered. Publishing never waits: `publish` encodes
the PUBLISH command and queues it, and once per event-loop iteration everything queued leaves in
one write on one connection, which keeps frames in commit order (Redis delivers a connection's
publishes in order). While that connection is being set up, or Redis does not read fast enough
(the transport's buffer is full), frames wait in a bounded queue that drops the oldest. When Redis
is unreachable, frames are dropped and counted (local delivery already happened). The subscriber
reconnects with backoff and re-subscribes to every topic the node holds, then calls `on_reconnect`
so that the node can tell its clients to `sync` what they may have missed. Frames this node
failed to publish were missed by the others' clients: once its publishing connection is back, it
announces that on a channel every node holds, and every other node calls `on_reconnect` too. Both connections PING
every LINK_TIMEOUT seconds and are dropped when a whole period passes without a byte from Redis, so
a silent or stuck Redis counts as unreachable.

Why a small RESP client of its own rather than redis-py (which presence still uses): this path runs
for every cross-node frame, and redis-py's per-message machinery (a coroutine with a timeout and a
health check per `get_message`, a pipeline object per batch) cost, even with hiredis, ~105 µs of
CPU per chat message on the publishing node and ~40 µs on the receiving one in
bench/broker_micro.py; writing pre-encoded commands and handing each read to hiredis in
`data_received`, then delivering synchronously, costs ~25 µs and ~15 µs. It speaks only AUTH,
PUBLISH, SUBSCRIBE, UNSUBSCRIBE and PING.

Wire format: node id (16 bytes), then "shop:user:seq" for a chat record (empty otherwise), "\n",
then the frame as the clients get it.

REDIS_URL: redis://[[user]:password@]host[:port][/db], rediss://... (TLS, verified against the
system's CAs) or unix://[[user]:password@]/path/to/socket. The database number does not matter
(pub/sub channels are server-wide); query options are refused rather than ignored.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis

from chat_server.broker import OnMessage, SeqKey
from chat_server.tasks import cancel

log = logging.getLogger("kefu.chat.broker")

CHANNEL_PREFIX = "kefu:"
NODE_ID_LEN = 16
MAX_PENDING = 100_000     # frames waiting for Redis; beyond this (Redis stuck) the oldest are dropped
SUBSCRIBE_CHUNK = 1000    # channels per SUBSCRIBE command when re-subscribing everything held
CONNECT_TIMEOUT = 2.0     # seconds
# Seconds between PINGs, and the longest silence tolerated after one: a stall that long costs every
# client a resync, so not shorter than a busy Redis's worst hiccups.
LINK_TIMEOUT = 5.0
MIN_BACKOFF, MAX_BACKOFF = 0.1, 5.0

_PREFIX = CHANNEL_PREFIX.encode()
RESYNC_CHANNEL = _PREFIX + b"_resync"   # every node: "I dropped frames, have your clients sync"


def command(*args: bytes) -> bytes:
    """A RESP command: an array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


PING = command(b"PING")


class LinkError(Exception):
    """Redis answered something that makes the connection useless (an error reply, bad bytes)."""


@dataclass(frozen=True)
class RedisAddress:
    host: str = ""
    port: int = 6379
    path: str = ""            # a unix socket instead of host:port
    tls: bool = False
    auth: bytes = b""         # the AUTH command to send first, if the URL has credentials

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"REDIS_URL: unsupported scheme {parts.scheme!r} (redis://, rediss:// or unix://)")
        if parts.query:
            raise ValueError("REDIS_URL: the broker reads no query options; put credentials before the host")
        auth = b""
        if parts.password is not None:
            credentials = [unquote(parts.password).encode()]
            if parts.username:
                credentials.insert(0, unquote(parts.username).encode())
            auth = command(b"AUTH", *credentials)
        if parts.scheme == "unix":
            return cls(path=parts.path, auth=auth)
        return cls(host=parts.hostname or "localhost", port=parts.port or 6379, tls=parts.scheme == "rediss",
                   auth=auth)

    async def connect(self, protocol_factory: Callable[[], asyncio.Protocol]) -> Any:
        loop = asyncio.get_running_loop()
        if self.path:
            _, protocol = await loop.create_unix_connection(protocol_factory, self.path)
        else:
            _, protocol = await loop.create_connection(
                protocol_factory, self.host, self.port,
                ssl=ssl.create_default_context() if self.tls else None, server_hostname=self.host if self.tls else None)
        return protocol


class Link(asyncio.Protocol):
    """One connection to Redis. Every reply, parsed by hiredis, goes to `on_reply` in order, at
    once: whatever one read brought is handled in one go, with no task switch per reply."""

    def __init__(self, on_reply: Callable[[Any], None], on_resume: Callable[[], None] | None = None) -> None:
        self._on_reply = on_reply
        self._on_resume = on_resume
        self._reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self._paused = False           # the transport's buffer is above its high-water mark
        self.lost: asyncio.Future = asyncio.get_running_loop().create_future()   # → why, when it is
        self._heard = True
        self._reason: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport     # type: ignore[assignment]

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    @property
    def writable(self) -> bool:
        """Open, and Redis reads what we write."""
        return not self._paused and self.open

    def data_received(self, data: bytes) -> None:
        self._heard = True
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                self._on_reply(reply)
        except (hiredis.ProtocolError, LinkError) as exc:
            self.drop(exc)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._on_resume is not None:
            self._on_resume()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(self._reason or exc or "closed by Redis")

    def drop(self, reason: object) -> None:
        if self._reason is None:
            self._reason = reason
        if self.transport is not None:
            self.transport.abort()

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    async def watch(self) -> object:
        """PING every LINK_TIMEOUT until the connection is lost; a period without a byte from Redis
        drops it. Returns why it was lost."""
        while not self.lost.done():
            self._heard = False
            self.transport.write(PING)
            await asyncio.wait((self.lost,), timeout=LINK_TIMEOUT)
            if not self._heard:
                self.drop(f"no answer from Redis within {LINK_TIMEOUT:g} s")
        return await self.lost

    def close(self) -> None:
        """Close gracefully (what was written still leaves) if it is still open."""
        if self.transport is not None and not self.lost.done():
            self.transport.close()


class RedisBroker:
    def __init__(self, url: str, topics: Callable[[], Iterable[str]],
                 on_reconnect: Callable[[], Awaitable[None]] | None = None, node_id: str | None = None):
        self.address = RedisAddress.parse(url)
        self.node_id = (node_id or secrets.token_hex(NODE_ID_LEN // 2)).encode()
        assert len(self.node_id) == NODE_ID_LEN
        # A channel of this node alone: subscribed last, its confirmation says all the others are in place.
        self._node_channel = _PREFIX + b"_node:" + self.node_id
        self._owe_resync = False           # frames were dropped: the other nodes' clients must sync
        self._topics = topics              # the topics this node holds now (for re-subscribing)
        self._on_reconnect = on_reconnect
        self._on_message: OnMessage | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task | None = None
        self._publisher: asyncio.Task | None = None
        self._sub: Link | None = None      # the subscriber connection, from TCP connect until lost
        self._subscribed: asyncio.Future | None = None
        self._pub: Link | None = None      # the publisher connection, likewise
        self._publishing = False           # a publisher connection is up or being set up: frames wait for it
        self._pending: deque[bytes] = deque(maxlen=MAX_PENDING)    # encoded PUBLISH commands
        self._flush_scheduled = False
        self._unanswered = 0               # PUBLISHes written whose reply has not come yet
        self.connected = asyncio.Event()   # subscribed to every topic held
        self.publish_failures = 0

    async def start(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._loop = asyncio.get_running_loop()
        self._listener = self._loop.create_task(self._listen_forever())
        self._publisher = self._loop.create_task(self._publish_forever())

    async def close(self) -> None:
        """What `publish` queued before this leaves first (its write was scheduled earlier)."""
        for task in (self._listener, self._publisher):
            await cancel(task)
        self.connected.clear()

    async def _connect(self, on_reply: Callable[[Any], None], on_resume: Callable[[], None] | None = None) -> Link:
        link = await asyncio.wait_for(self.address.connect(lambda: Link(on_reply, on_resume)), CONNECT_TIMEOUT)
        if self.address.auth:
            link.write(self.address.auth)
        return link

    # --------------------------------------------------------------------------- subscribing

    async def subscribe(self, topic: str) -> None:
        # While disconnected there is nothing to do: the next connection subscribes to all held topics.
        if self._sub is not None and self._sub.open:
            self._sub.write(command(b"SUBSCRIBE", (CHANNEL_PREFIX + topic).encode()))

    async def unsubscribe(self, topic: str) -> None:
        if self._sub is not None and self._sub.open:
            self._sub.write(command(b"UNSUBSCRIBE", (CHANNEL_PREFIX + topic).encode()))

    async def _listen_forever(self) -> None:
        delay = MIN_BACKOFF
        first = True
        told = False        # the current outage has been logged (one line each)
        while True:
            link = None
            try:
                link = await self._connect(self._on_push)
                self._subscribed = self._loop.create_future()
                # No await between taking the held topics and `self._sub` being set: a topic added
                # meanwhile is either in this list or subscribed by `subscribe` on this connection.
                self._sub = link
                held = [(CHANNEL_PREFIX + topic).encode() for topic in self._topics()]
                for i in range(0, len(held), SUBSCRIBE_CHUNK):
                    link.write(command(b"SUBSCRIBE", *held[i:i + SUBSCRIBE_CHUNK]))
                link.write(command(b"SUBSCRIBE", RESYNC_CHANNEL, self._node_channel))
                await asyncio.wait((self._subscribed, link.lost), timeout=LINK_TIMEOUT,
                                   return_when=asyncio.FIRST_COMPLETED)
                if self._subscribed.done():
                    self.connected.set()
                    delay, told = MIN_BACKOFF, False
                    if not first and self._on_reconnect is not None:
                        await self._call_on_reconnect()
                    first = False
                    reason = await link.watch()
                else:
                    link.drop("no answer to SUBSCRIBE")
                    reason = await link.lost
            except OSError as exc:      # refused, reset, TimeoutError of connecting, TLS
                reason = exc
            finally:
                self._sub = None
                if link is not None:
                    link.close()
            first = False   # clients may connect before the first subscription works: they sync then
            if not told:    # also when it never worked: a wrong password must not fail silently
                log.warning("Redis subscription %s (%s); reconnecting with backoff",
                            "lost" if self.connected.is_set() else "failed", reason)
                told = True
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _on_push(self, reply: Any) -> None:
        if type(reply) is list:
            kind = reply[0]
            if kind == b"message":
                if reply[1] == RESYNC_CHANNEL:
                    self._resync_requested(reply[2])
                else:
                    self._deliver(reply[1], reply[2])
            elif kind == b"subscribe" and reply[1] == self._node_channel and not self._subscribed.done():
                self._subscribed.set_result(None)
            # other confirmations and PING's ["pong", ""]: nothing to do
        elif isinstance(reply, hiredis.ReplyError):
            raise LinkError(f"Redis answered {reply}")
        # else AUTH's "OK"

    def _resync_requested(self, node_id: bytes) -> None:
        """Another node could not publish some frames: this node's clients may lack them."""
        if node_id != self.node_id and self._on_reconnect is not None:
            self._loop.create_task(self._call_on_reconnect())

    async def _call_on_reconnect(self) -> None:
        try:
            await self._on_reconnect()
        except Exception:   # the subscription itself is fine: keep it
            log.exception("on_reconnect failed")

    def _deliver(self, channel: bytes, data: bytes) -> None:
        if data[:NODE_ID_LEN] == self.node_id:
            return          # our own publish: delivered locally already
        try:
            newline = data.index(b"\n", NODE_ID_LEN)
            header = data[NODE_ID_LEN:newline]
            seq_key = tuple(map(int, header.split(b":"))) if header else None
            if seq_key is not None and len(seq_key) != 3:
                raise ValueError(f"seq key {header!r}")
            topic = channel[len(_PREFIX):].decode()
        except ValueError as exc:
            log.warning("dropped a malformed frame on %r: %s", channel, exc)
            return
        try:
            self._on_message(topic, data[newline + 1:], seq_key)
        except Exception:   # a delivery bug must not cost the node its subscription
            log.exception("delivering a frame from Redis on %r failed", channel)

    # --------------------------------------------------------------------------- publishing

    def publish(self, topic: str, payload: bytes, seq_key: SeqKey = None) -> None:
        """For the other nodes; this node has delivered locally already."""
        if not self._publishing:
            self._dropped(1, "Redis is unreachable")
            return
        if len(self._pending) == MAX_PENDING:
            self._dropped(1, "Redis does not keep up: the oldest queued frame is dropped")
        channel = (CHANNEL_PREFIX + topic).encode()
        header = b"%d:%d:%d" % seq_key if seq_key is not None else b""
        # command(b"PUBLISH", channel, node id + header + "\n" + payload), in one formatting step:
        # the payload is copied once, not once per concatenation.
        self._pending.append(b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%b\r\n$%d\r\n%b%b\n%b\r\n" % (
            len(channel), channel, NODE_ID_LEN + len(header) + 1 + len(payload), self.node_id, header, payload))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Everything queued, in one write (once per event-loop iteration, and when Redis reads again)."""
        self._flush_scheduled = False
        link = self._pub
        if link is not None and link.writable and self._pending:
            link.write(b"".join(self._pending))
            self._unanswered += len(self._pending)
            self._pending.clear()

    def _on_publish_reply(self, reply: Any) -> None:
        if type(reply) is int:      # PUBLISH's count of receivers
            self._unanswered -= 1
        elif isinstance(reply, hiredis.ReplyError):
            raise LinkError(f"Redis answered {reply}")
        # else PING's "PONG", AUTH's "OK"

    async def _publish_forever(self) -> None:
        delay = MIN_BACKOFF
        while True:
            self._publishing = True
            link = None
            try:
                link = await self._connect(self._on_publish_reply, self._flush)
                self._pub = link
                if self._owe_resync:    # before anything newer: the others sync from here on
                    self._owe_resync = False
                    link.write(command(b"PUBLISH", RESYNC_CHANNEL, self.node_id))
                    self._unanswered += 1
                self._flush()
                since = self._loop.time()
                reason = await link.watch()
                if self._loop.time() - since > LINK_TIMEOUT:     # it worked for a while: start over
                    delay = MIN_BACKOFF
                    log.warning("Redis publishing connection lost (%s); reconnecting", reason)
            except OSError as exc:      # refused, reset, TimeoutError of connecting, TLS
                reason = exc
            finally:
                self._publishing = False
                self._pub = None
                if link is not None:
                    link.close()
                lost = self._unanswered + len(self._pending)
                self._unanswered = 0
                self._pending.clear()
            if lost:
                self._dropped(lost, reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _dropped(self, frames: int, reason: object) -> None:
        self.publish_failures += frames
        self._owe_resync = True
        if self.publish_failures == frames or self.publish_failures % 1000 < frames:
            log.warning("publish to Redis failed (%d frames so far): %s", self.publish_failures, reason)
