"""RedisBroker against a real, private redis-server that the tests stop, restart and freeze
(SIGSTOP): order, the seq header, own frames skipped, payload bytes kept exactly, subscribe and
unsubscribe, malformed frames, re-subscribing after a restart, a stuck Redis noticed, the bounded
queue, and authentication."""
from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis.asyncio as redis

from chat_server import broker_redis
from chat_server.broker_redis import CHANNEL_PREFIX, RedisAddress, RedisBroker


class RedisServer:
    """A redis-server of the test's own on a fixed port, so that it can be restarted in place."""

    def __init__(self, *args: str) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("needs redis-server (apt-get install redis-server)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = tempfile.mkdtemp(prefix="kefu-test-broker-")
        # Pub/sub clients that fall behind are not cut off: the bounded-queue test sends a burst.
        self.args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", self.folder, "--client-output-buffer-limit", "pubsub 0 0 0", *args]
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)   # in case a test froze it
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def server():
    srv = RedisServer()
    srv.start()
    yield srv
    srv.stop()
    shutil.rmtree(srv.folder, ignore_errors=True)


@pytest.fixture
def running(server):
    """The server, running and thawed whatever the previous test did to it."""
    if server.proc is None:
        server.start()
    server.thaw()
    return server


class Node:
    """A broker as a chat node uses it: the topics it holds, and what reached it."""

    def __init__(self, url: str) -> None:
        self.held: set[str] = set()
        self.received: list[tuple[str, bytes, tuple | None]] = []
        self.reconnects = 0
        self.fail_on: bytes | None = None     # a payload whose delivery raises, like a bug would
        self.reconnect_fails = False          # on_reconnect raises, like a bug would
        self.broker = RedisBroker(url, lambda: list(self.held), on_reconnect=self._reconnected)

    async def _reconnected(self) -> None:
        self.reconnects += 1
        if self.reconnect_fails:
            raise RuntimeError("a bug in on_reconnect")

    def on_message(self, topic: str, payload: bytes, seq_key) -> None:
        if payload == self.fail_on:
            raise RuntimeError("a bug in delivery")
        self.received.append((topic, payload, seq_key))

    async def start(self) -> Node:
        await self.broker.start(self.on_message)
        await asyncio.wait_for(self.broker.connected.wait(), 10)
        return self

    async def hold(self, topic: str) -> None:
        self.held.add(topic)
        await self.broker.subscribe(topic)

    async def release(self, topic: str) -> None:
        self.held.discard(topic)
        await self.broker.unsubscribe(topic)

    def payloads(self) -> list[bytes]:
        return [payload for _, payload, _ in self.received]

    async def until_received(self, count: int, timeout: float = 10) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            assert asyncio.get_running_loop().time() < deadline, f"{len(self.received)} of {count} frames arrived"
            await asyncio.sleep(0.01)


async def eventually(check, timeout: float = 10, what: str = "") -> None:
    """Until `check()` (a function or a coroutine function) is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.02)


async def subscribers(url: str, topic: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return dict(await client.pubsub_numsub(CHANNEL_PREFIX + topic))[(CHANNEL_PREFIX + topic).encode()]
    finally:
        await client.aclose()


async def until_subscribed(url: str, topic: str, count: int = 1) -> None:
    async def check() -> bool:
        return await subscribers(url, topic) == count
    await eventually(check, what=f"{count} subscriber(s) of {topic}")


@pytest.fixture
async def pair(running):
    """Node A publishes, node B subscribes; both are closed after the test."""
    a, b = Node(running.url), Node(running.url)
    await a.start()
    await b.start()
    yield a, b
    await a.broker.close()
    await b.broker.close()


def topic() -> str:
    return f"k:{secrets.randbelow(10 ** 9)}"


# ------------------------------------------------------------------------------ delivery


async def test_many_frames_keep_the_publishing_order_across_topics_and_writes(pair, running):
    a, b = pair
    topics = [topic() for _ in range(20)]
    for t in topics:
        await b.hold(t)
    for t in topics:
        await until_subscribed(running.url, t)
    sent = []
    for i in range(6000):
        t, payload = topics[i % len(topics)], b"frame %d" % i
        a.broker.publish(t, payload, (1, i % len(topics), i))
        sent.append((t, payload, (1, i % len(topics), i)))
        if i % 1000 == 999:
            await asyncio.sleep(0)     # a thousand in one write, then the next thousand
    await b.until_received(len(sent))
    assert b.received == sent
    assert a.received == [] and a.broker.publish_failures == 0


async def test_seq_header_round_trip_and_frames_without_one(pair, running):
    a, b = pair
    t = topic()
    await b.hold(t)
    await until_subscribed(running.url, t)
    a.broker.publish(t, b"chat", (12, 34567, 2 ** 62))
    a.broker.publish(t, b"typing")
    a.broker.publish(t, b"first", (1, 1, 1))
    await b.until_received(3)
    assert b.received == [(t, b"chat", (12, 34567, 2 ** 62)), (t, b"typing", None), (t, b"first", (1, 1, 1))]


async def test_payload_bytes_arrive_exactly(pair, running):
    a, b = pair
    t = topic()
    await b.hold(t)
    await until_subscribed(running.url, t)
    payloads = [
        '{"event":"chat","data":{"msg":"你好\\n世界 🎉"}}'.encode(),
        b"line one\nline two\r\n*3\r\n$7\r\nmessage\r\n",    # newlines and RESP look-alikes inside
        bytes(range(256)) * 3,
        b"",
        b"\n",
        os.urandom(1_000_000),                               # spans many reads
    ]
    for i, payload in enumerate(payloads):
        a.broker.publish(t, payload, (1, 2, i + 1))
    await b.until_received(len(payloads))
    assert b.payloads() == payloads
    assert [seq for _, _, seq in b.received] == [(1, 2, i + 1) for i in range(len(payloads))]


async def test_own_frames_are_skipped_and_others_delivered(pair, running):
    a, b = pair
    t = topic()
    await a.hold(t)
    await b.hold(t)
    await until_subscribed(running.url, t, 2)
    a.broker.publish(t, b"from a", (1, 1, 1))
    await b.until_received(1)
    # Redis sent A's frame to A's subscription too, before B's: by the time B's arrives, A dropped its own.
    b.broker.publish(t, b"from b", (1, 1, 2))
    await a.until_received(1)
    await b.until_received(1)
    await asyncio.sleep(0.1)
    assert a.received == [(t, b"from b", (1, 1, 2))]
    assert b.received == [(t, b"from a", (1, 1, 1))]


async def test_unsubscribe_stops_delivery(pair, running):
    a, b = pair
    gone, kept = topic(), topic()
    await b.hold(gone)
    await b.hold(kept)
    await until_subscribed(running.url, gone)
    await until_subscribed(running.url, kept)
    a.broker.publish(gone, b"before")
    await b.until_received(1)
    await b.release(gone)
    await until_subscribed(running.url, gone, 0)
    a.broker.publish(gone, b"after")
    a.broker.publish(kept, b"marker")       # published after: when it is here, "after" would be too
    await b.until_received(2)
    assert b.payloads() == [b"before", b"marker"]


async def test_malformed_frames_are_dropped_and_the_subscription_goes_on(pair, running):
    a, b = pair
    t = topic()
    await b.hold(t)
    await until_subscribed(running.url, t)
    client = redis.Redis.from_url(running.url)
    try:
        channel = CHANNEL_PREFIX + t
        await client.publish(channel, b"short")                           # no node id, no newline
        await client.publish(channel, b"x" * 16 + b"no newline at all")
        await client.publish(channel, b"x" * 16 + b"1:2\n{}")              # a seq key of two numbers
        await client.publish(channel, b"x" * 16 + b"1:a:3\n{}")            # not a number
    finally:
        await client.aclose()
    a.broker.publish(t, b"good", (1, 2, 3))
    await b.until_received(1)
    await asyncio.sleep(0.05)
    assert b.received == [(t, b"good", (1, 2, 3))]
    assert b.broker.connected.is_set() and b.reconnects == 0


async def test_a_failing_delivery_does_not_cost_the_subscription(pair, running):
    a, b = pair
    t = topic()
    await b.hold(t)
    await until_subscribed(running.url, t)
    b.fail_on = b"boom"
    for payload in (b"one", b"boom", b"two"):
        a.broker.publish(t, payload)
    await b.until_received(2)
    await asyncio.sleep(0.05)
    assert b.payloads() == [b"one", b"two"]
    assert b.broker.connected.is_set() and b.reconnects == 0


# ------------------------------------------------------------------------------ failures


@pytest.mark.slow
async def test_resubscribes_what_it_holds_after_a_redis_restart(pair, running):
    a, b = pair
    kept, released, added = topic(), topic(), topic()
    await b.hold(kept)
    await b.hold(released)
    await until_subscribed(running.url, kept)

    running.stop()
    await eventually(lambda: not b.broker.connected.is_set(), what="B notices")
    # While disconnected: the changes are only in what the node holds; the next connection applies them.
    await b.release(released)
    await b.hold(added)
    a.broker.publish(kept, b"while down")
    await asyncio.sleep(0.3)
    running.start()

    await asyncio.wait_for(b.broker.connected.wait(), 15)
    assert b.reconnects >= 1     # its own reconnection (and A's "I dropped frames" may follow)
    assert await subscribers(running.url, kept) == 1
    assert await subscribers(running.url, added) == 1
    assert await subscribers(running.url, released) == 0
    assert a.broker.publish_failures >= 1

    # A's publishing connection comes back on its own backoff: publish until frames flow again.
    async def flowing() -> bool:
        a.broker.publish(added, b"after %d" % len(sent))
        sent.append(b"after %d" % len(sent))
        await asyncio.sleep(0.05)
        return bool(b.received)
    sent: list[bytes] = []
    await eventually(flowing, timeout=15, what="frames flow after the restart")
    a.broker.publish(added, b"last")
    await eventually(lambda: b.payloads()[-1:] == [b"last"], what="the last frame")
    got = b.payloads()
    assert b"while down" not in got                 # dropped, not delivered late
    assert got[:-1] == sent[len(sent) - len(got) + 1:]    # once frames flow again, all of them in order


async def test_frames_a_node_could_not_publish_make_the_other_nodes_resync(pair, running):
    a, b = pair
    held = topic()
    await b.hold(held)
    await until_subscribed(running.url, held)
    # Only A's publishing connection breaks: B's subscription never notices anything.
    a.broker._pub.drop("the test breaks the publishing connection")
    await eventually(lambda: not a.broker._publishing, what="A notices")
    a.broker.publish(held, b"lost")
    assert a.broker.publish_failures == 1
    await eventually(lambda: b.reconnects == 1, timeout=15, what="B is told to have its clients sync")
    assert a.reconnects == 0          # A's own clients had every frame (delivered locally)
    assert b.broker.connected.is_set()
    a.broker.publish(held, b"after")
    await eventually(lambda: b.payloads()[-1:] == [b"after"], what="frames flow again")
    assert b"lost" not in b.payloads()
    await asyncio.sleep(0.2)
    assert b.reconnects == 1          # told once, not for every later frame


@pytest.fixture
def short_link_timeout(monkeypatch):
    """Silence is noticed after 1 s instead of LINK_TIMEOUT (before the brokers start: list it first)."""
    monkeypatch.setattr(broker_redis, "LINK_TIMEOUT", 1.0)


@pytest.mark.slow
async def test_a_frozen_redis_is_noticed_and_healed(short_link_timeout, pair, running):
    a, b = pair
    t = topic()
    await b.hold(t)
    await until_subscribed(running.url, t)
    running.freeze()              # connections stay open, nothing answers
    try:
        a.broker.publish(t, b"into the void")
        await eventually(lambda: not b.broker.connected.is_set(),
                         timeout=2 * broker_redis.LINK_TIMEOUT + 2, what="B notices the silence")
        await eventually(lambda: a.broker.publish_failures >= 1,
                         timeout=2 * broker_redis.LINK_TIMEOUT + 2, what="A drops what it could not send")
    finally:
        running.thaw()
    await asyncio.wait_for(b.broker.connected.wait(), 15)
    assert b.reconnects >= 1     # its own reconnection (and A's "I dropped frames" may follow)
    await until_subscribed(running.url, t)

    async def flowing() -> bool:
        a.broker.publish(t, b"again")
        await asyncio.sleep(0.05)
        return b"again" in b.payloads()
    await eventually(flowing, timeout=15, what="frames flow after the thaw")


async def test_the_queue_is_bounded_and_drops_the_oldest_while_redis_does_not_read(running, monkeypatch):
    monkeypatch.setattr(broker_redis, "MAX_PENDING", 5)
    a, b = await Node(running.url).start(), await Node(running.url).start()
    try:
        t = topic()
        await b.hold(t)
        await until_subscribed(running.url, t)
        total, chunk = 400, 64 * 1024
        running.freeze()
        try:
            for i in range(total):     # 25 MiB: more than the socket buffers hold, so the queue fills
                a.broker.publish(t, b"%06d" % i + b"." * chunk)
                await asyncio.sleep(0)     # one frame per write: the queue holds 5 of them
        finally:
            running.thaw()
        dropped = a.broker.publish_failures
        assert 0 < dropped < total - 5
        await b.until_received(total - dropped, timeout=20)
        got = [int(p[:6]) for p in b.payloads()]
        # What was written before Redis stopped reading, then only the newest of what waited.
        written = total - dropped - 5
        assert got == list(range(written)) + list(range(total - 5, total))
    finally:
        await a.broker.close()
        await b.broker.close()


async def test_a_failing_on_reconnect_does_not_cost_the_subscription(pair, running):
    a, b = pair
    t = topic()
    await b.hold(t)
    await until_subscribed(running.url, t)
    b.reconnect_fails = True
    client = redis.Redis.from_url(running.url)
    try:
        for outage in (1, 2):          # Redis closes every subscriber connection; B comes back each time
            await client.client_kill_filter(_type="pubsub")
            await eventually(lambda n=outage: b.reconnects == n, what=f"reconnect {outage}")
            await asyncio.wait_for(b.broker.connected.wait(), 5)
            await until_subscribed(running.url, t)
    finally:
        await client.aclose()
    a.broker.publish(t, b"still here")
    await b.until_received(1)
    assert b.payloads() == [b"still here"]


# ------------------------------------------------------------------------------ addresses


async def test_password_from_the_url_authenticates(caplog):
    server = RedisServer("--requirepass", "s3cret/pw")
    server.start()
    try:
        base = f"127.0.0.1:{server.port}"
        a = await Node(f"redis://default:s3cret%2Fpw@{base}/0").start()     # user and password
        b = await Node(f"redis://:s3cret%2Fpw@{base}/3").start()            # password only
        wrong = Node(f"redis://:nope@{base}/0")
        await wrong.broker.start(wrong.on_message)
        try:
            t = topic()
            await b.hold(t)
            await until_subscribed(f"redis://:s3cret%2Fpw@{base}/0", t)
            a.broker.publish(t, b"authenticated", (1, 1, 1))
            await b.until_received(1)
            assert b.received == [(t, b"authenticated", (1, 1, 1))]
            await asyncio.sleep(0.5)
            assert not wrong.broker.connected.is_set()
            assert "WRONGPASS" in caplog.text       # said once, not retried in silence
        finally:
            for node in (a, b, wrong):
                await node.broker.close()
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


def test_addresses():
    assert RedisAddress.parse("redis://10.0.0.5:6380/2") == RedisAddress(host="10.0.0.5", port=6380)
    assert RedisAddress.parse("redis://cache") == RedisAddress(host="cache", port=6379)
    assert RedisAddress.parse("rediss://u:p%40ss@cache:6390") == RedisAddress(
        host="cache", port=6390, tls=True, auth=b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$4\r\np@ss\r\n")
    assert RedisAddress.parse("unix:///run/redis.sock") == RedisAddress(path="/run/redis.sock")
    for bad in ("http://cache:6379", "redis://cache:6379/0?socket_timeout=3", "cache:6379"):
        with pytest.raises(ValueError):
            RedisAddress.parse(bad)
