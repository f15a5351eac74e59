"""CPU of cross-node delivery through Redis, in isolation: `python -m bench.broker_micro`.

A private redis-server, a publishing broker in one process and a subscribing one in another, both
on uvloop like the chat server. The publisher plays node A of the two-nodes benchmark: for every
chat message it publishes the same ~400-byte frame (with its seq key) twice, as chat.py does: to
the buyer's topic, which it holds itself (Redis sends the frame back and the broker drops it), and
to the kefu's topic, held by the subscriber (node B), which delivers it. 200 buyers, 200 kefu, a
steady rate.

CPU is utime + stime of each process (time.process_time) over a round: the subscriber's from the
start signal until it has delivered every frame, the publisher's from the start signal until the
subscriber is done plus a short settle for its own frames coming back. The publisher's pacing loop
alone (the same loop publishing nowhere) is measured first and subtracted. Redis's CPU is read from
/proc. Every round is printed to show the noise; the medians are the result.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procstat import cpu_seconds
from bench.services import wait_port
from chat_server.protocol import frame
from shared.pgserver import free_port

TOPICS = 200
TICK = 0.001          # the publisher's pacing period (s)
SETTLE = 0.3          # after the last frame: the publisher's own frames come back from Redis


def chat_frame(i: int) -> tuple[bytes, tuple[int, int, int]]:
    """A chat frame as clients get it (~400 bytes), and its seq key."""
    user, seq = i % TOPICS + 1, i // TOPICS + 1
    payload = frame("chat", {
        "id": 1_000_000 + i, "shop_id": 1, "user_id": user, "seq": seq, "from_id": user, "from_type": "user",
        "to_id": user, "to_type": "kefu", "msg": f"你好，请问这件商品还有货吗？订单号 {100000 + i}", "msg_type": 1,
        "is_read": 0, "type": 1, "create_time": "2024-05-01 12:00:00", "update_time": "2024-05-01 12:00:00",
        "create_time_stamp": 1714536000, "from_avatar": "/uploads/avatar/2024/05/01/buyer.png",
        "from_nickname": f"买家{user}", "goods": [], "client_msg_id": f"c-{i:012d}-abcdef"})
    return payload, (1, user, seq)


def broker_class(spec: str) -> type:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


class Control:
    """Commands from the parent over a pipe, awaited without a thread."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.queue: asyncio.Queue = asyncio.Queue()
        asyncio.get_running_loop().add_reader(conn.fileno(), lambda: self.queue.put_nowait(conn.recv()))

    async def next(self):
        return await self.queue.get()


async def started(spec: str, url: str, node_id: str, held: list[str], on_message):
    broker = broker_class(spec)(url, lambda: held, node_id=node_id)
    await broker.start(on_message)
    await asyncio.wait_for(broker.connected.wait(), 10)
    for topic in held:          # as the hub does, one topic at a time
        await broker.subscribe(topic)
    return broker


async def subscriber(spec: str, url: str, conn) -> None:
    control = Control(conn)
    state = {"count": 0, "expected": 0, "disorder": 0, "done": None}
    last_seq: dict[str, int] = {}

    def on_message(topic: str, payload: bytes, seq_key) -> None:
        seq = seq_key[2]
        if seq <= last_seq.get(topic, 0):
            state["disorder"] += 1
        last_seq[topic] = seq
        state["count"] += 1
        if state["count"] == state["expected"]:
            state["done"].set_result(None)

    broker = await started(spec, url, "b" * 16, [f"k:{i + 1}" for i in range(TOPICS)], on_message)
    conn.send("ready")
    while (command := await control.next()) != "quit":
        _, expected, timeout = command
        last_seq.clear()
        state.update(count=0, expected=expected, disorder=0, done=asyncio.get_running_loop().create_future())
        t0 = time.process_time()
        try:
            await asyncio.wait_for(state["done"], timeout)
        except TimeoutError:
            pass
        conn.send((time.process_time() - t0, state["count"], state["disorder"]))
    await broker.close()


async def paced(n: int, rate: float, publish_one) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while sent < n:
        due = min(n, int((loop.time() - start) * rate) + 1)
        while sent < due:
            publish_one(sent)
            sent += 1
        await asyncio.sleep(TICK)


async def publisher(spec: str, url: str, conn, n: int, rate: float) -> None:
    control = Control(conn)
    frames = [chat_frame(i) for i in range(n)]
    t0 = time.process_time()
    await paced(n, rate, lambda i: None)
    pacing = time.process_time() - t0
    broker = await started(spec, url, "a" * 16, [f"u:1:{i + 1}" for i in range(TOPICS)], lambda *_: None)

    def publish_one(i: int) -> None:
        payload, seq_key = frames[i]
        broker.publish(f"u:1:{seq_key[1]}", payload, seq_key)      # the buyer's other tabs (none elsewhere)
        broker.publish(f"k:{seq_key[1]}", payload, seq_key)        # the kefu, on the other node

    conn.send(("ready", pacing))
    while await control.next() != "quit":
        t0 = time.process_time()
        await paced(n, rate, publish_one)
        await control.next()                    # the subscriber has everything
        await asyncio.sleep(SETTLE)
        conn.send(time.process_time() - t0)
    await broker.close()


def run_child(role: str, spec: str, url: str, conn, *args) -> None:
    import uvloop
    uvloop.run({"sub": subscriber, "pub": publisher}[role](spec, url, conn, *args))


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, 10)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="chat messages per round (2 publishes each)")
    parser.add_argument("--rate", type=float, default=1500, help="chat messages per second")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--broker", default="chat_server.broker_redis:RedisBroker",
                        help="module:Class of the broker to measure (to compare another implementation)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kefu-broker-micro-"))
    redis_proc, url = start_redis(folder)
    ctx = multiprocessing.get_context("spawn")
    sub_conn, sub_end = ctx.Pipe()
    pub_conn, pub_end = ctx.Pipe()
    sub = ctx.Process(target=run_child, args=("sub", args.broker, url, sub_end))
    pub = ctx.Process(target=run_child, args=("pub", args.broker, url, pub_end, args.messages, args.rate))
    try:
        sub.start()
        pub.start()
        assert sub_conn.recv() == "ready"
        _, pacing = pub_conn.recv()
        time.sleep(0.5)         # the subscriptions reach Redis
        n = args.messages
        pacing_us = pacing / n * 1e6
        print(f"{args.broker}: {n} messages per round ({2 * n} publishes, {n} deliveries) at {args.rate:g}/s; "
              f"publisher pacing alone {pacing_us:.1f} µs per message (subtracted)")
        print("round  publisher µs/msg  subscriber µs/msg  redis µs/msg  delivered")
        rows = []
        for r in range(args.rounds):
            redis0 = cpu_seconds(redis_proc.pid)
            sub_conn.send(("go", n, n / args.rate + 30))
            pub_conn.send("go")
            sub_cpu, count, disorder = sub_conn.recv()
            pub_conn.send("subscriber done")
            pub_cpu = pub_conn.recv()
            redis_cpu = cpu_seconds(redis_proc.pid) - redis0
            row = (pub_cpu / n * 1e6 - pacing_us, sub_cpu / n * 1e6, redis_cpu / n * 1e6)
            rows.append(row)
            note = "" if count == n and not disorder else f"  ⚠ {n - count} missing, {disorder} out of order"
            print(f"{r + 1:5d}  {row[0]:16.1f}  {row[1]:17.1f}  {row[2]:12.1f}  {count}{note}")
        med = [statistics.median(col) for col in zip(*rows)]
        print(f"median {med[0]:16.1f}  {med[1]:17.1f}  {med[2]:12.1f}  (publisher + subscriber: {med[0] + med[1]:.1f})")
    finally:
        for conn in (sub_conn, pub_conn):
            try:
                conn.send("quit")
            except OSError:
                pass
        for proc in (sub, pub):
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
