"""Deterministic reproductions of what the stress run found, on two in-process nodes sharing Redis."""
import asyncio
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest
import redis.asyncio as redis

from chat_server.keys import PRESENCE
from shared.settings import Settings
from tests.chat_server.conftest import Chat
from tests.chat_server.test_broker_redis import eventually, until_subscribed
from tests.tcp_proxy import TcpProxy


async def make_node(aiohttp_client, env: dict, db) -> Chat:
    from chat_server.app import create_app
    settings = Settings.from_env(env)
    app = create_app(settings)
    return Chat(client=await aiohttp_client(app), app=app, db=db, settings=settings)


@pytest.fixture
async def two_nodes(settings_env, commerce_server, redis_url, db, aiohttp_client):
    env = {**settings_env, "REDIS_URL": redis_url, "PRESENCE_TTL": "3",
           "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/")}
    node_a = await make_node(aiohttp_client, env, db)
    node_b = await make_node(aiohttp_client, env, db)
    yield node_a, node_b
    for sock in node_a.sockets + node_b.sockets:
        await sock.close()


async def presence_loads(redis_url: str) -> dict[str, int]:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        loads: dict[str, int] = {}
        async for key in r.scan_iter(match="kefu:p:*:load"):
            for kefu, n in (await r.hgetall(key)).items():
                loads[kefu] = loads.get(kefu, 0) + int(n)
        return {k: n for k, n in loads.items() if n}
    finally:
        await r.aclose()


async def test_transfer_to_buyer_on_other_node_then_buyer_leaves(two_nodes, redis_url):
    """The buyer is on node B, both agents on node A; agent 2 transfers the buyer to agent 3, then
    the buyer leaves. The new owner must be told the buyer went offline, and the kefu loads in
    presence must return to zero (they are what assignment balances on)."""
    node_a, node_b = two_nodes
    kefu2 = await node_a.kefu(2)
    kefu3 = await node_a.kefu(3)
    await until_subscribed(redis_url, "k:2")
    await until_subscribed(redis_url, "k:3")
    user = await node_b.user(7, shop_id=1)
    await user.send("user_online", {"kefu_id": 2})
    assert (await kefu2.expect("user_online"))["kefu_id"] == 2
    assert await presence_loads(redis_url) == {"2": 1}

    await kefu2.send("transfer", {"user_id": 7, "kefu_id": 3})
    assert await kefu2.expect("transfer") == {"status": "send_success"}
    assert (await kefu3.expect("transfer"))["status"] == "get_success"
    assert await presence_loads(redis_url) == {"3": 1}

    await user.close()
    told = {2: await frames_within(kefu2, 1.0), 3: await frames_within(kefu3, 0.2)}
    offline_to = {k: [f["data"]["online"] for f in frames if f["event"] == "user_online"] for k, frames in told.items()}
    loads = await presence_loads(redis_url)
    assert (offline_to, loads) == ({2: [], 3: [0]}, {}), (
        f"after the buyer left: `user_online` frames (online flags) per agent {offline_to}, "
        f"kefu loads left in presence {loads}")


async def frames_within(sock, seconds: float) -> list[dict]:
    """Every frame but pings that arrives within `seconds`."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            msg = await sock.ws.receive(timeout=left)
        except asyncio.TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.TEXT:
            frame = orjson.loads(msg.data)
            if frame["event"] != "ping":
                frames.append(frame)
    return frames


class SlowProxy(TcpProxy):
    """A TcpProxy whose line can also have latency: every chunk arrives `delay` seconds after it
    was sent (chunks are not serialised behind each other's delay)."""

    delay = 0.0

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        line: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while (item := await line.get()) is not None:
                due, data = item
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()

        delivery = loop.create_task(deliver())
        try:
            while data := await reader.read(65536):
                line.put_nowait((loop.time() + self.delay, data))
            line.put_nowait(None)
            await delivery
        except (ConnectionError, OSError):
            pass
        finally:
            delivery.cancel()
            self._pipes.discard(writer)
            writer.transport.abort()


async def presence_users(redis_url: str) -> dict[str, int]:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        users: dict[str, int] = {}
        async for key in r.scan_iter(match="kefu:p:*:u"):
            for field, n in (await r.hgetall(key)).items():
                users[field] = users.get(field, 0) + int(n)
        return users
    finally:
        await r.aclose()


async def _matches(redis_url: str, expected: dict) -> bool:
    return await presence_users(redis_url) == expected


async def test_buyers_who_connect_while_a_node_rewrites_its_presence_are_not_lost(
        settings_env, commerce_server, redis_url, db, aiohttp_client):
    """After a Redis outage a node rewrites its presence hashes from memory; a buyer who connects
    while that rewrite is on its way to Redis must still end up in presence (today the update is
    skipped because the node is "not synced", and the rewrite carries the older snapshot)."""
    target = urlsplit(redis_url)
    proxy = await SlowProxy(target.hostname, target.port).start()
    env = {**settings_env, "REDIS_URL": f"redis://127.0.0.1:{proxy.port}{target.path}", "PRESENCE_TTL": "3",
           "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/")}
    node = await make_node(aiohttp_client, env, db)
    try:
        proxy.down()
        presence = node.app[PRESENCE]
        # a heartbeat fails: the node is no longer in sync
        await eventually(lambda: not presence._synced, timeout=30, what="the node noticing the outage")
        proxy.delay = 0.3                     # Redis is back, far away: a rewrite takes a round trip
        proxy.up()
        for user_id in range(1, 13):          # buyers keep arriving across the next heartbeats
            await node.user(user_id, shop_id=1)
            await asyncio.sleep(0.15)
        proxy.delay = 0.0
        # further heartbeats: nothing is out of sync any more (a lost buyer never comes back)
        expected = {f"1:{u}": 1 for u in range(1, 13)}
        try:
            await eventually(lambda: presence._synced, timeout=30, what="the node back in sync")
            await eventually(lambda: _matches(redis_url, expected), timeout=30, what="every buyer in presence")
        finally:
            found = await presence_users(redis_url)
        assert found == expected, f"missing from presence: {sorted(set(expected) - set(found))}"
    finally:
        for sock in node.sockets:
            await sock.close()
        await proxy.close()
