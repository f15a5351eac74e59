"""Stress with hard invariants: two chat nodes (real `python -m chat_server` processes) sharing one
Postgres database and one private Redis, the commerce API as a third process, 40 buyers (users
1..20, each in shops 1 and 2) and the shops' three agents, all sending with client_msg_ids,
retrying, going away and coming back on either node, while the run kills one node with SIGKILL
(and restarts it on the same port), stops the other with SIGTERM (and restarts it), and kills and
restarts Redis (which keeps nothing: the nodes must rebuild their presence and resubscribe).

Then, after a quiet period and a final `sync` of every conversation by every client:
  * every echoed message is stored exactly once, as echoed; nothing is stored twice or unasked;
  * every conversation's seq is exactly 1..N in the database;
  * every client's view of each of its conversations is exactly the stored one;
  * a retried client_msg_id always got the original record back;
  * presence in Redis is exactly who is connected (owners and loads agreeing with the database),
    and, a while after the SIGKILL, the dead node's entries have expired;
  * clients of the node stopped with SIGTERM were told 1012; every connection that lived through
    the Redis restart was asked to `resync`;
  * nothing leaks: no node holds a client connection after every client left, presence is empty
    again, database backends belong to running processes only and stay within the pool bound.

Seeded: the seed is printed; STRESS_SEED=<n> replays the same plan (the interleaving of a real
run still varies). Every wait is bounded; every process is killed in `finally`.
"""
from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
import redis.asyncio as redis

from shared.tokens import new_token
from tests.conftest import INTERNAL_KEY, run_sync
from tests.stress import invariants
from tests.stress.actors import Actor, Plan
from tests.stress.harness import Proc, free_port, redis_proc, service_proc, stop_all, wait_port, wait_ready

pytestmark = pytest.mark.slow

LOAD_SECONDS = 46          # the busy part of the run
PRESENCE_TTL = 3
DB_POOL_MAX = 6
USERS = range(1, 21)       # the demo buyers, each in shops 1 and 2
SHOP_KEFU = {1: [2, 3], 2: [4]}


async def mint_tokens(db: asyncpg.Connection) -> tuple[dict[int, str], dict[int, str]]:
    users, kefu = {}, {}
    for user_id in USERS:
        users[user_id] = new_token()
        await db.execute("INSERT INTO session (user_id, token, client, expire_time)"
                         " VALUES ($1, $2, 6, now() + interval '1 hour')"
                         " ON CONFLICT (user_id, client) DO UPDATE SET token = EXCLUDED.token,"
                         " expire_time = EXCLUDED.expire_time", user_id, users[user_id])
    for kefu_id in (2, 3, 4):
        kefu[kefu_id] = new_token()
        await db.execute("INSERT INTO kefu_session (kefu_id, shop_id, token, client, expire_time)"
                         " SELECT id, shop_id, $2, 5, now() + interval '1 hour' FROM kefu WHERE id = $1"
                         " ON CONFLICT (kefu_id, client) DO UPDATE SET token = EXCLUDED.token,"
                         " expire_time = EXCLUDED.expire_time", kefu_id, kefu[kefu_id])
    return users, kefu


class Run:
    """Everything one stress run started and learned."""

    def __init__(self, seed: int, db_dsn: str, folder: Path):
        self.seed = seed
        self.rng = random.Random(seed)
        self.db_dsn = db_dsn
        self.folder = folder
        self.procs: list[Proc] = []
        self.failures: list[str] = []
        self.timeline: list[str] = []
        self.stats: dict = {}
        self.t0 = time.monotonic()

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.t0:6.1f}s {what}")

    def fail(self, what: str | list[str]) -> None:
        self.failures.extend([what] if isinstance(what, str) else what)

    # ------------------------------------------------------------------------- processes

    def start_processes(self) -> None:
        self.redis = redis_proc(self.folder, free_port())
        self.procs.append(self.redis)
        self.redis.start()
        assert wait_port(self.redis.port, 10), "redis-server did not start"
        self.redis_url = f"redis://127.0.0.1:{self.redis.port}/0"
        base = {"DATABASE_URL": self.db_dsn, "INTERNAL_API_KEY": INTERNAL_KEY, "LOG_LEVEL": "WARNING",
                "UPLOAD_DIR": str(self.folder / "uploads"), "DB_POOL_MIN": "1", "DB_POOL_MAX": str(DB_POOL_MAX)}
        commerce_port = free_port()
        self.commerce = service_proc("commerce", "commerce_api", commerce_port,
                                     {**base, "COMMERCE_PORT": str(commerce_port)}, self.folder)
        self.procs.append(self.commerce)
        self.commerce.start()
        self.nodes = []
        for name in ("node-a", "node-b"):
            port = free_port()
            node = service_proc(name, "chat_server", port, {
                **base, "CHAT_PORT": str(port), "REDIS_URL": self.redis_url,
                "COMMERCE_URL": f"http://127.0.0.1:{commerce_port}", "COMMERCE_TIMEOUT_MS": "3000",
                "PRESENCE_TTL": str(PRESENCE_TTL), "CHAT_IDLE_TIMEOUT": "30"}, self.folder)
            self.procs.append(node)
            self.nodes.append(node)
            node.start()

    async def ready(self, session: aiohttp.ClientSession, *procs: Proc) -> None:
        for p in procs:
            if not await wait_ready(session, p.port, 30):
                raise AssertionError(f"{p.name} not ready within 30 s:\n{p.log_tail()}")

    # ------------------------------------------------------------------------- faults

    async def restart_redis(self, actors: list[Actor]) -> None:
        survivors = [c for a in actors for c in a.live_clients()]
        self.note(f"redis: SIGKILL ({len(survivors)} client connections open)")
        self.redis.kill()
        await asyncio.sleep(1.0)
        self.redis.start()
        assert await asyncio.to_thread(wait_port, self.redis.port, 10), "redis-server did not restart"
        self.note("redis: back")
        # Each node re-subscribes (backoff at most a few seconds) and asks its clients to resync.
        await asyncio.sleep(5)
        by_actor = {id(c): a for a in actors for c in a.live_clients()}
        lived = [c for c in survivors if id(c) in by_actor]
        missed = [by_actor[id(c)].name for c in lived if not by_actor[id(c)].resyncs[id(c)]]
        self.stats["resync"] = {"connections through the restart": len(lived), "without resync": len(missed)}
        self.note(f"redis: {len(lived) - len(missed)}/{len(lived)} surviving connections got `resync`")
        if missed:
            self.fail(f"{len(missed)} of {len(lived)} connections that lived through the Redis restart were never "
                      f"asked to resync (e.g. {missed[:5]})")

    async def kill_node(self, session: aiohttp.ClientSession, node: Proc) -> None:
        self.note(f"{node.name}: SIGKILL")
        node.signal(signal.SIGKILL)
        node.wait(10)
        await asyncio.sleep(2.0)
        node.start()
        await self.ready(session, node)
        self.note(f"{node.name}: restarted")

    async def stop_node(self, session: aiohttp.ClientSession, node: Proc, actors: list[Actor]) -> None:
        on_node = [(a, c) for a in actors for c in a.live_clients() if a.port == node.port and a.client is c]
        self.note(f"{node.name}: SIGTERM ({len(on_node)} clients connected)")
        started = time.monotonic()
        node.signal(signal.SIGTERM)
        code = await asyncio.to_thread(node.wait, 20)
        took = time.monotonic() - started
        self.stats["sigterm"] = {"exit code": code, "seconds to exit": round(took, 2), "clients": len(on_node)}
        self.note(f"{node.name}: exited {code} after {took:.1f}s")
        if code is None:
            self.fail(f"{node.name} still running 20 s after SIGTERM")
            node.kill()
        codes = []
        for actor, client in on_node:
            if id(client) in actor.self_closed:
                continue
            try:
                await asyncio.wait_for(client.closed.wait(), 3)
            except asyncio.TimeoutError:
                pass
            codes.append(client.close_code if client.closed.is_set() else "open")
        self.stats["sigterm"]["close codes"] = dict(sorted(((str(c), codes.count(c)) for c in set(codes))))
        wrong = [c for c in codes if c != 1012]
        if wrong:
            self.fail(f"SIGTERM: {len(wrong)} of {len(codes)} clients of {node.name} were not closed with 1012 "
                      f"(got {sorted(map(str, set(wrong)))})")
        await asyncio.sleep(1.0)
        node.start()
        await self.ready(session, node)
        self.note(f"{node.name}: restarted")

    async def check_dead_node_gone(self) -> None:
        """A while after the SIGKILL, only the running nodes are live in presence and the dead one's
        hashes have expired (nothing deleted them: it could not say goodbye)."""
        r = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            snap = await invariants.presence_snapshot(r, PRESENCE_TTL)
        finally:
            await r.aclose()
        self.note(f"presence: {len(snap['live'])} live nodes, {len(snap['strays'])} stray keys")
        if len(snap["live"]) != 2 or snap["strays"]:
            self.fail(f"{2 * PRESENCE_TTL + 2}s after a node died: live nodes {sorted(snap['live'])}, "
                      f"keys of dead nodes {snap['strays']}")

    async def faults(self, session: aiohttp.ClientSession, actors: list[Actor], start: float) -> None:
        """SIGKILL one node (and restart it), SIGTERM the other (and restart it), then restart
        Redis late enough that the final presence check sees how the nodes recovered from it."""
        rng = self.rng
        victim = rng.randrange(2)
        schedule = [(7 + rng.uniform(0, 3), "kill"), (20 + rng.uniform(0, 3), "term"),
                    (30 + rng.uniform(0, 3), "redis")]
        for at, what in schedule:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            if what == "kill":
                await self.kill_node(session, self.nodes[victim])
                await asyncio.sleep(2 * PRESENCE_TTL)
                await self.check_dead_node_gone()
            elif what == "term":
                await self.stop_node(session, self.nodes[1 - victim], actors)
            else:
                await self.restart_redis(actors)

    # ------------------------------------------------------------------------- the run

    async def main(self) -> None:
        self.start_processes()
        pg_port = urlsplit(self.db_dsn).port
        database = urlsplit(self.db_dsn).path.lstrip("/")
        db = await asyncpg.connect(self.db_dsn)
        r = redis.Redis.from_url(self.redis_url, decode_responses=True)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        actors: list[Actor] = []
        try:
            await self.ready(session, self.commerce, *self.nodes)
            self.note("processes ready")
            user_tokens, kefu_tokens = await mint_tokens(db)
            start = time.monotonic()
            plan = Plan(ports=[n.port for n in self.nodes], session=session, stop_at=start + LOAD_SECONDS,
                        hard_deadline=start + LOAD_SECONDS + 60, ping_interval=5.0)
            for shop_id, kefu_ids in SHOP_KEFU.items():
                for kefu_id in kefu_ids:
                    actors.append(Actor(f"kefu{kefu_id}", "kefu", kefu_id, shop_id, kefu_tokens[kefu_id], 5, plan,
                                        random.Random(f"{self.seed}:kefu{kefu_id}"), peers=kefu_ids))
                for user_id in USERS:
                    actors.append(Actor(f"u{user_id}@{shop_id}", "user", user_id, shop_id, user_tokens[user_id], 6,
                                        plan, random.Random(f"{self.seed}:u{user_id}@{shop_id}"), peers=kefu_ids))
            self.note(f"load: {len(actors)} actors for {LOAD_SECONDS}s")
            runs = [asyncio.ensure_future(a.run()) for a in actors]
            fault_task = asyncio.ensure_future(self.faults(session, actors, start))
            done, pending = await asyncio.wait([*runs, fault_task], timeout=LOAD_SECONDS + 75)
            for task in pending:
                task.cancel()
                self.fail(f"still running at the hard deadline: {task}")
            for task in done:
                if task.exception() is not None:
                    exc = task.exception()
                    self.fail(f"{'faults' if task is fault_task else 'actor'} failed: {type(exc).__name__}: {exc}")
            self.note("load: over")

            # Quiet: nothing in flight; then every client syncs every conversation it should see.
            await asyncio.sleep(1.5)
            truth_keys = sorted((await invariants.conversations_in_db(db)).keys())
            await asyncio.gather(*(a.final_sync([a.conversation_key] if a.role == "user" else
                                                [k for k in truth_keys if k[0] == a.shop_id])
                                   for a in actors))
            self.note("final sync: done")
            truth = await invariants.conversations_in_db(db)

            self.fail(await invariants.check_sequences(db))
            wrong, self.stats["messages"] = await invariants.check_stored_once(db, actors)
            self.fail(wrong)
            self.fail(invariants.check_views(actors, truth))
            for a in actors:
                self.fail([f"{a.name}: {f}" for f in a.failures])
            # The dead node's presence has long expired (PRESENCE_TTL); the live nodes' is exact.
            self.fail(await invariants.check_presence(r, PRESENCE_TTL, actors, db, live_nodes=2))
            self.note("presence checked with every client connected")

            # Everyone leaves: presence empties, no node keeps a socket, nothing holds more than it may.
            await asyncio.gather(*(a.close() for a in actors))
            deadline = time.monotonic() + 8
            while True:
                left = (await invariants.check_presence_empty(r, PRESENCE_TTL, 2)
                        + invariants.check_sockets(self.nodes))
                if not left or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.25)
            self.fail(left)
            wrong, self.stats["database connections"] = await invariants.check_backends(
                db, database, self.procs, pg_port, DB_POOL_MAX, self.nodes)
            self.fail(wrong)
            # redis-py's pools open a connection per concurrent command: bounded by the load (one
            # request in flight per client), not growing with time.
            wrong, self.stats["redis connections"] = await invariants.check_redis_clients(
                r, self.procs, os.getpid(), bound=len(actors) + 10)
            self.fail(wrong)
            for node in self.nodes:
                if not await wait_ready(session, node.port, 5):
                    self.fail(f"{node.name} not ready at the end")
            self.stats["actors"] = summarise(actors)
        finally:
            for a in actors:
                try:
                    await asyncio.wait_for(a.close(), 5)
                except (Exception, asyncio.TimeoutError):
                    pass
            await session.close()
            await r.aclose()
            await db.close()


def summarise(actors: list[Actor]) -> dict:
    total: dict[str, Counter] = {"actions": Counter(), "close codes": Counter(), "tolerated": Counter(),
                                 "transient": Counter(), "tracking": Counter()}
    for a in actors:
        total["actions"].update(a.actions)
        total["close codes"].update({str(k): v for k, v in a.close_codes.items()})
        total["tolerated"].update(a.tolerated)
        total["transient"].update(a.transient)
        total["tracking"].update(a.tracker.totals())
        total["tracking"]["connections"] += a.connections
        total["tracking"]["retries checked"] += a.retries_checked
    return {k: dict(v) for k, v in total.items()}


def test_two_nodes_under_faults_keep_every_invariant(db_dsn, tmp_path):
    seed = int(os.environ.get("STRESS_SEED") or secrets.randbits(32))
    print(f"\nSTRESS_SEED={seed}")
    run = Run(seed, db_dsn, tmp_path)
    try:
        run_sync(run.main())
    except BaseException:
        for p in run.procs:
            print(f"---- {p.name} log tail ----\n{p.log_tail()}")
        raise
    finally:
        stop_all(run.procs)
        print("\n".join(run.timeline))
        for key, value in run.stats.items():
            print(f"{key}: {value}")
    assert not run.failures, (f"STRESS_SEED={seed}: {len(run.failures)} invariant violations:\n  "
                              + "\n  ".join(run.failures[:60]))
