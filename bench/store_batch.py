"""The group-commit store alone: `python -m bench.store_batch`.

Stores batches of messages through `MessageWriter` (each batch submitted at once, so that the
writer commits it as one batch) and reports CPU per stored message: Postgres (every process of the
server: the connection's backend, the WAL writer, the checkpointer...; only the backend when the
server is not ours) and this client (time.process_time: the writer, encoding the batch, asyncpg,
decoding the answer, resolving the futures). No chat server, no sockets, no load generator: what a
batch costs, apart from everything else.

A private Postgres is started under a temporary folder unless DATABASE_URL is set (then a database
is created beside the one it names and dropped at the end; the server must run on this machine,
its backend's CPU is read from /proc). The data: the demo, bulk buyers and 50 bulk kefu of shop 1.
A batch of N messages spreads over about N/1.3 conversations (most of them existing after the
warm-up), in arrival order: ~70 % buyer→kefu, ~30 % kefu→buyer from the conversation's owner,
~60 % with a client_msg_id and ~1 % retries of an earlier message (stored as duplicates). Every
repetition stores fresh batches; the table shows the median and the range of the repetitions.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.procstat import children, cpu_seconds, group_cpu
from chat_server.data.conversations import NewMessage
from chat_server.writer import MessageWriter
from shared.db import create_pool
from shared.demo_data import seed_bulk_buyers, seed_bulk_kefu, seed_demo
from shared.migrate import migrate
from shared.pgserver import PgServer

SHOP_ID = 1
MESSAGES_PER_CONVERSATION = 1.3
TEXTS = ["你好，请问这个还有货吗？", "在的亲，有货的", "什么时候发货呢", "今天下午就发", "好的谢谢",
         "可以便宜一点吗", "这个尺码偏大还是偏小？", "Is shipping free for two items?", "收到了，质量很好 👍",
         "亲，麻烦提供一下订单号哦"]

Item = tuple[NewMessage, int]


class Traffic:
    """Fresh, realistic batches: buyers of shop 1 talking with their owners among the bulk kefu."""

    def __init__(self, buyers: list[tuple[int, str]], kefu: list[tuple[int, str]], seed: int):
        self.rng = random.Random(seed)
        self.buyers = buyers
        self.kefu = kefu
        self.owners: dict[int, tuple[int, str]] = {}
        self.sent: list[Item] = []       # messages with a client_msg_id, to retry
        self.counter = 0

    def batch(self, size: int) -> list[Item]:
        rng = self.rng
        chosen = rng.sample(self.buyers, max(1, round(size / MESSAGES_PER_CONVERSATION)))
        items = []
        for _ in range(size):
            if self.sent and rng.random() < 0.01:
                items.append(rng.choice(self.sent))      # a retry of an earlier send
                continue
            user_id, nickname = rng.choice(chosen)
            owner, owner_name = self.owners.setdefault(user_id, rng.choice(self.kefu))
            if rng.random() < 0.7:
                sender = {"from_type": "user", "from_id": user_id, "to_id": owner, "to_type": "kefu",
                          "nickname": nickname, "client": 6}
            else:
                sender = {"from_type": "kefu", "from_id": owner, "to_id": user_id, "to_type": "user",
                          "nickname": owner_name, "client": 5}
            cmid = None
            if rng.random() < 0.6:
                self.counter += 1
                cmid = f"c{self.counter}-{secrets.token_hex(4)}"
            item = (NewMessage(shop_id=SHOP_ID, user_id=user_id, msg=rng.choice(TEXTS), msg_type=1,
                               client_msg_id=cmid, avatar="uploads/demo/user.png", **sender), owner)
            items.append(item)
            if cmid is not None:
                self.sent.append(item)
        return items


async def store(writer: MessageWriter, batch: list[Item]) -> None:
    """Submit the batch at once (the writer takes it as one batch) and wait for every answer."""
    await asyncio.gather(*(writer.submit(m, owner) for m, owner in batch), return_exceptions=True)


async def measure(writer: MessageWriter, traffic: Traffic, size: int, messages: int,
                  server_pids: Callable[[], list[int]], backend_pid: int) -> tuple[float, float, float]:
    """(Postgres server µs, backend µs, client µs) per message over `messages` messages."""
    batches = [traffic.batch(size) for _ in range(max(1, messages // size))]
    count = sum(len(b) for b in batches)
    server0, backend0, client0 = group_cpu(server_pids()), cpu_seconds(backend_pid), time.process_time()
    for batch in batches:
        await store(writer, batch)
    client1, backend1, server1 = time.process_time(), cpu_seconds(backend_pid), group_cpu(server_pids())
    return tuple(1e6 * d / count for d in (server1 - server0, backend1 - backend0, client1 - client0))


async def run(dsn: str, server_pids: Callable[[], list[int]], args: argparse.Namespace) -> None:
    await migrate(dsn)
    await seed_demo(dsn)
    await seed_bulk_buyers(dsn, args.buyers)
    await seed_bulk_kefu(dsn, 50)
    conn = await asyncpg.connect(dsn)
    try:
        buyers = [(r["id"], r["nickname"]) for r in await conn.fetch(
            "SELECT id, nickname FROM \"user\" WHERE mobile LIKE '139%' ORDER BY id")]
        kefu = [(r["id"], r["nickname"]) for r in await conn.fetch(
            "SELECT id, nickname FROM kefu WHERE shop_id = $1 AND sort > 100 ORDER BY id", SHOP_ID)]
    finally:
        await conn.close()
    traffic = Traffic(buyers, kefu, args.seed)
    # one connection, so that its backend is the one whose CPU is read
    pool = await create_pool(dsn, min_size=1, max_size=1)
    writer = MessageWriter(pool, max_batch=max(args.batch))
    writer.start()
    try:
        backend_pid = await pool.fetchval("SELECT pg_backend_pid()")
        for _ in range(max(1, len(buyers) // 200)):      # most conversations exist; plans and caches are warm
            await store(writer, traffic.batch(256))
        print("| batch | Postgres µs/msg (all processes) | backend µs/msg | client µs/msg | runs |")
        print("|---|---|---|---|---|")
        for size in args.batch:
            writer.max_batch = size
            runs = [await measure(writer, traffic, size, args.messages, server_pids, backend_pid)
                    for _ in range(args.runs)]
            cells = [f"{statistics.median(column):.0f} ({min(column):.0f}–{max(column):.0f})"
                     for column in zip(*runs)]
            print(f"| {size} | {' | '.join(cells)} | {len(runs)} |", flush=True)
    finally:
        await writer.stop()
        await pool.close()


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_batch", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 256],
                        help="batch sizes, comma-separated (default 1,16,256)")
    parser.add_argument("--messages", type=int, default=4096, help="messages per repetition (default 4096)")
    parser.add_argument("--runs", type=int, default=5, help="repetitions per batch size (default 5)")
    parser.add_argument("--buyers", type=int, default=2000, help="bulk buyers (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL")
    if url:
        name = f"kefu_store_bench_{secrets.token_hex(3)}"
        asyncio.run(admin(url, f'CREATE DATABASE "{name}"'))
        try:
            # not our server: only the connection's backend is ours to read (when it runs here)
            asyncio.run(run(with_database(url, name), list, args))
        finally:
            asyncio.run(admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    folder = Path(tempfile.mkdtemp(prefix="kefu-store-bench-"))
    server = PgServer(folder / "pg")
    try:
        server_dsn = server.start()

        def server_pids() -> list[int]:
            postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
            return [postmaster, *children(postmaster)]
        asyncio.run(run(server_dsn, server_pids, args))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
