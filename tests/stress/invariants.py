"""The hard invariants of the stress run, each a function that returns what it found wrong (an
empty list when it holds), so that one run reports every broken invariant at once."""
from __future__ import annotations

import time
from collections import Counter, defaultdict

import asyncpg
import redis.asyncio as redis

from tests.stress.actors import Actor
from tests.stress.harness import Proc, accepted_on, connections_to, tcp_sockets

PRESENCE_PREFIX = "kefu:p:"
NODES_KEY = PRESENCE_PREFIX + "nodes"


async def conversations_in_db(db: asyncpg.Connection) -> dict[tuple[int, int], dict[int, int]]:
    """(shop_id, user_id) → {seq: record id} for every conversation."""
    out: dict[tuple[int, int], dict[int, int]] = {}
    for r in await db.fetch("SELECT shop_id, user_id FROM chat_relation"):
        out[(r["shop_id"], r["user_id"])] = {}
    for r in await db.fetch("SELECT shop_id, user_id, seq, id FROM chat_record ORDER BY shop_id, user_id, seq"):
        out.setdefault((r["shop_id"], r["user_id"]), {})[r["seq"]] = r["id"]
    return out


async def check_sequences(db: asyncpg.Connection) -> list[str]:
    """Per conversation: seq is exactly 1..N, N = chat_relation.last_seq."""
    wrong = []
    rows = await db.fetch(
        "SELECT r.shop_id, r.user_id, r.last_seq, count(c.id) AS n, count(DISTINCT c.seq) AS distinct_seqs,"
        "       coalesce(min(c.seq), 0) AS lo, coalesce(max(c.seq), 0) AS hi"
        "  FROM chat_relation r LEFT JOIN chat_record c ON c.shop_id = r.shop_id AND c.user_id = r.user_id"
        " GROUP BY r.shop_id, r.user_id, r.last_seq")
    for r in rows:
        n = r["n"]
        if not (r["distinct_seqs"] == n and r["hi"] == n and r["lo"] == min(n, 1) and r["last_seq"] == n):
            wrong.append(f"conversation {r['shop_id']}:{r['user_id']}: {n} records, {r['distinct_seqs']} distinct "
                         f"seqs in {r['lo']}..{r['hi']}, last_seq {r['last_seq']}")
    orphans = await db.fetchval(
        "SELECT count(*) FROM chat_record c WHERE NOT EXISTS"
        " (SELECT 1 FROM chat_relation r WHERE r.shop_id = c.shop_id AND r.user_id = c.user_id)")
    if orphans:
        wrong.append(f"{orphans} records belong to no conversation")
    return wrong


async def check_stored_once(db: asyncpg.Connection, actors: list[Actor]) -> tuple[list[str], dict]:
    """Every echoed message is stored exactly once, as echoed; nothing is stored that nobody sent;
    records without a client_msg_id are only transfer notices."""
    wrong: list[str] = []
    rows = await db.fetch("SELECT id, seq, shop_id, user_id, from_type, from_id, msg, type, client_msg_id"
                          "  FROM chat_record")
    by_key: defaultdict[tuple, list] = defaultdict(list)
    for r in rows:
        if r["client_msg_id"] is None:
            if r["type"] != 2:
                wrong.append(f"record {r['id']} has no client_msg_id and is not a notice")
            continue
        by_key[(r["from_type"], r["from_id"], r["client_msg_id"])].append(r)
    for key, found in by_key.items():
        if len(found) > 1:
            wrong.append(f"{key} stored {len(found)} times: ids {[f['id'] for f in found]}")
    sent: set[tuple] = set()
    acked = unacked_stored = unacked = 0
    for actor in actors:
        for cmid in actor.tracker.sent:
            sent.add((actor.role, actor.principal_id, cmid))
        for cmid, echo in actor.tracker.acked.items():
            acked += 1
            found = by_key.get((actor.role, actor.principal_id, cmid), [])
            if len(found) != 1:
                wrong.append(f"{actor.name}: echoed {cmid} (id {echo['id']}) is stored {len(found)} times")
                continue
            rec = found[0]
            if (rec["id"], rec["seq"], rec["shop_id"], rec["user_id"], rec["msg"]) != (
                    echo["id"], echo["seq"], echo["shop_id"], echo["user_id"], echo["msg"]):
                wrong.append(f"{actor.name}: echo of {cmid} {echo['id']}/{echo['seq']} differs from the stored "
                             f"record {rec['id']}/{rec['seq']}")
        for cmid in actor.unacked:
            unacked += 1
            unacked_stored += bool(by_key.get((actor.role, actor.principal_id, cmid)))
    phantoms = [k for k in by_key if k not in sent]
    if phantoms:
        wrong.append(f"{len(phantoms)} stored messages nobody sent, e.g. {phantoms[:3]}")
    stats = {"records": len(rows), "with_client_msg_id": sum(len(v) for v in by_key.values()), "acked": acked,
             "unacked": unacked, "unacked_but_stored": unacked_stored,
             "notices": sum(1 for r in rows if r["client_msg_id"] is None)}
    return wrong, stats


def check_views(actors: list[Actor], truth: dict[tuple[int, int], dict[int, int]]) -> list[str]:
    """After the final sync every client's view of each of its conversations is the stored one:
    complete, each seq once with the stored record id; no live duplicate or conflict on the way."""
    wrong = []
    for actor in actors:
        keys = [actor.conversation_key] if actor.role == "user" else [k for k in truth if k[0] == actor.shop_id]
        for key in keys:
            conv = actor.tracker.conversations.get(key)
            expected = truth.get(key, {})
            seen = dict(conv.by_seq) if conv else {}
            if seen != expected:
                missing = sorted(set(expected) - set(seen))
                extra = sorted(set(seen) - set(expected))
                differ = sorted(s for s in set(seen) & set(expected) if seen[s] != expected[s])
                wrong.append(f"{actor.name} view of {key[0]}:{key[1]}: missing seqs {missing[:10]}, "
                             f"unknown seqs {extra[:10]}, other ids at {differ[:10]}")
            elif conv is not None and conv.last_seq != len(expected):
                wrong.append(f"{actor.name} view of {key}: last contiguous seq {conv.last_seq} != {len(expected)}")
        for key, conv in actor.tracker.conversations.items():
            if conv.duplicates or conv.conflicts:
                wrong.append(f"{actor.name} conversation {key}: {conv.duplicates} live duplicates, "
                             f"{conv.conflicts} seq/id conflicts")
    return wrong


async def presence_snapshot(r: redis.Redis, ttl: int) -> dict:
    now = time.time()
    live = set(await r.zrangebyscore(NODES_KEY, now - ttl, "+inf"))
    hashes: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)   # kind → node → hash
    strays = []
    async for key in r.scan_iter(match=PRESENCE_PREFIX + "*"):
        if key == NODES_KEY:
            continue
        node, kind = key[len(PRESENCE_PREFIX):].rsplit(":", 1)
        if node not in live:
            strays.append(key)
            continue
        hashes[kind][node] = await r.hgetall(key)
    return {"live": live, "hashes": hashes, "strays": strays}


async def check_presence(r: redis.Redis, ttl: int, actors: list[Actor], db: asyncpg.Connection,
                         live_nodes: int) -> list[str]:
    """What the nodes published in Redis is exactly who is connected now; owners and loads agree
    with the database; dead nodes left nothing behind."""
    snap = await presence_snapshot(r, ttl)
    wrong = []
    if len(snap["live"]) != live_nodes:
        wrong.append(f"{len(snap['live'])} live nodes in presence, {live_nodes} running")
    if snap["strays"]:
        wrong.append(f"presence keys of dead nodes still there: {snap['strays']}")
    h = snap["hashes"]
    users: Counter[str] = Counter()
    for node_hash in h.get("u", {}).values():
        for f, n in node_hash.items():
            users[f] += int(n)
    expected_users: Counter[str] = Counter()
    expected_kefu: Counter[str] = Counter()
    for a in actors:
        n = len(a.live_clients())
        if n:
            if a.role == "user":
                expected_users[f"{a.shop_id}:{a.principal_id}"] += n
            else:
                expected_kefu[str(a.principal_id)] += n
    if +users != +expected_users:
        wrong.append(f"buyers in presence {dict(+users - expected_users)} too many, "
                     f"{dict(+expected_users - users)} missing")
    kefu: Counter[str] = Counter()
    for node_hash in h.get("k", {}).values():
        for f, v in node_hash.items():
            kefu[f] += int(v.split(":")[1])
    if +kefu != +expected_kefu:
        wrong.append(f"kefu in presence {dict(kefu)}, connected {dict(expected_kefu)}")
    owners: dict[str, list[int]] = defaultdict(list)
    for node_hash in h.get("owner", {}).values():
        for f, v in node_hash.items():
            owners[f].append(int(v))
    if set(owners) != set(+expected_users):
        wrong.append(f"owners in presence for {sorted(set(owners) - set(+expected_users))} (not online) and "
                     f"missing for {sorted(set(+expected_users) - set(owners))}")
    db_owner = {f"{r['shop_id']}:{r['user_id']}": r["kefu_id"]
                for r in await db.fetch("SELECT shop_id, user_id, kefu_id FROM chat_relation")}
    stale = {f: v for f, v in owners.items() if any(k != db_owner.get(f) for k in v)}
    if stale:
        wrong.append(f"presence owners differ from the database: "
                     f"{ {f: (v, db_owner.get(f)) for f, v in list(stale.items())[:8]} }")
    load: Counter[int] = Counter()
    for node_hash in h.get("load", {}).values():
        for f, n in node_hash.items():
            load[int(f)] += int(n)
    expected_load = Counter(k for v in owners.values() for k in v)
    if +load != +expected_load or any(n < 0 for n in load.values()):
        wrong.append(f"kefu loads in presence {dict(load)}, owners say {dict(expected_load)}")
    return wrong


async def check_presence_empty(r: redis.Redis, ttl: int, live_nodes: int) -> list[str]:
    snap = await presence_snapshot(r, ttl)
    wrong = []
    if len(snap["live"]) != live_nodes:
        wrong.append(f"{len(snap['live'])} live nodes in presence after the run, {live_nodes} running")
    for kind, nodes in snap["hashes"].items():
        for node, values in nodes.items():
            left = {f: v for f, v in values.items() if not (kind == "load" and int(v) == 0)}
            if left:
                wrong.append(f"presence {kind} of node {node} not empty with every client gone: {left}")
    return wrong


def check_sockets(nodes: list[Proc]) -> list[str]:
    """With every client gone, no node holds a client connection any more."""
    wrong = []
    for node in nodes:
        held = accepted_on(node.pid, node.port)
        if held:
            wrong.append(f"{node.name} still holds {len(held)} client connections")
    return wrong


def local_ports(procs: list[Proc]) -> dict[int, str]:
    """Local TCP port → the name of the running process that owns it."""
    owner_of_port: dict[int, str] = {}
    for p in procs:
        if p.alive():
            for s in tcp_sockets(p.pid):
                owner_of_port[s.local_port] = p.name
    return owner_of_port


async def check_backends(db: asyncpg.Connection, database: str, procs: list[Proc], pg_port: int, pool_max: int,
                         nodes: list[Proc]) -> tuple[list[str], dict]:
    """Every 'kefu' backend of the test database belongs to a running process (a killed node's are
    gone) and no node holds more than its pool's bound (+1: the LISTEN connection)."""
    wrong = []
    owner_of_port = local_ports(procs)
    rows = await db.fetch("SELECT pid, client_port, application_name FROM pg_stat_activity WHERE datname = $1",
                          database)
    per_owner: Counter[str] = Counter()
    for r in rows:
        if r["application_name"] != "kefu":
            continue
        owner = owner_of_port.get(r["client_port"])
        if owner is None:
            wrong.append(f"backend {r['pid']} (client port {r['client_port']}) belongs to no running process")
        else:
            per_owner[owner] += 1
    for node in nodes:
        held = len(connections_to(node.pid, pg_port))
        per_owner[f"{node.name} sockets"] = held
        if held > pool_max + 1:
            wrong.append(f"{node.name} holds {held} database connections (pool max {pool_max} + LISTEN)")
    return wrong, dict(per_owner)


async def check_redis_clients(r: redis.Redis, procs: list[Proc], test_pid: int, bound: int) -> tuple[list[str], dict]:
    """Redis connections belong to running processes only, and each node holds a bounded number."""
    wrong = []
    owner_of_port = local_ports(procs)
    for s in tcp_sockets(test_pid):
        owner_of_port[s.local_port] = "test"
    per_owner: Counter[str] = Counter()
    for client in await r.client_list():
        port = int(client["addr"].rsplit(":", 1)[1])
        per_owner[owner_of_port.get(port, "unknown")] += 1
    if per_owner.get("unknown"):
        wrong.append(f"{per_owner['unknown']} Redis connections of no running process")
    for name, n in per_owner.items():
        if name != "test" and n > bound:
            wrong.append(f"{name} holds {n} Redis connections (bound {bound})")
    return wrong, dict(per_owner)
