"""Two chat nodes sharing Redis and Postgres: fan-out and presence across nodes, expiry of a dead
node's presence, and a Redis outage healed by `resync` + `sync`."""

import pytest

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
async def node_env(settings_env, commerce_server, redis_url):
    return {**settings_env, "REDIS_URL": redis_url, "PRESENCE_TTL": "3",
            "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/")}


async def test_message_crosses_nodes_and_presence_is_shared(node_env, db, aiohttp_client):
    node_a = await make_node(aiohttp_client, node_env, db)
    node_b = await make_node(aiohttp_client, node_env, db)
    kefu = await node_b.kefu(2)
    await until_subscribed(node_env["REDIS_URL"], "k:2")
    user = await node_a.user(7, shop_id=1)
    await user.send("user_online", {"kefu_id": 3})     # kefu 3 is offline: the online kefu 2 is chosen
    row = await kefu.expect("user_online")
    assert row["kefu_id"] == 2 and row["online"] == 1

    await user.send("chat", {"msg": "跨节点", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    echo = await user.expect("chat")
    assert (await kefu.expect("chat"))["id"] == echo["id"]
    await kefu.send("chat", {"msg": "收到", "msg_type": 1, "to_id": 7, "to_type": "user"})
    assert (await user.expect("chat"))["msg"] == "收到"
    await kefu.expect("chat")   # its own echo

    # a second tab on the other node: going offline on A is not the last connection
    tab2 = await node_b.user(7, shop_id=1)
    await user.close()
    await kefu.nothing(0.5)
    await tab2.close()
    assert (await kefu.expect("user_online"))["online"] == 0
    for sock in node_a.sockets + node_b.sockets:
        await sock.close()


async def test_dead_nodes_presence_expires(node_env, db, aiohttp_client):
    node_a = await make_node(aiohttp_client, node_env, db)
    node_b = await make_node(aiohttp_client, node_env, db)
    await node_a.kefu(3)
    presence_b = node_b.app[PRESENCE]
    assert await presence_b.is_kefu_online(3)
    # node A "dies": its heartbeat stops (nothing deletes its entries)
    presence_a = node_a.app[PRESENCE]
    presence_a._task.cancel()
    presence_a._client = None        # and it can no longer say goodbye

    async def expired() -> bool:
        presence_b._live = (0.0, [])     # no cached answer
        return not await presence_b.is_kefu_online(3)
    await eventually(expired, timeout=float(node_env["PRESENCE_TTL"]) + 30, what="node A's presence expiring")
    assert await presence_b.online_kefu(1) == {}


async def test_redis_outage_keeps_local_service_and_heals(node_env, db, aiohttp_client):
    from urllib.parse import urlsplit
    target = urlsplit(node_env["REDIS_URL"])
    proxy = await TcpProxy(target.hostname, target.port).start()
    env = {**node_env, "REDIS_URL": f"redis://127.0.0.1:{proxy.port}{target.path}"}
    node_a = await make_node(aiohttp_client, env, db)
    node_b = await make_node(aiohttp_client, env, db)
    try:
        kefu_a = await node_a.kefu(2)
        await until_subscribed(node_env["REDIS_URL"], "k:2")
        user = await node_a.user(7, shop_id=1)
        await user.send("user_online", {"kefu_id": 2})
        await kefu_a.expect("user_online")
        kefu_b = await node_b.kefu(2)          # the same agent, a second tab on the other node
        await until_subscribed(node_env["REDIS_URL"], "k:2", count=2)

        proxy.down()
        await user.send("chat", {"msg": "断线中", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
        echo = await user.expect("chat")
        assert (await kefu_a.expect("chat"))["id"] == echo["id"]     # same node: still delivered
        await kefu_b.nothing(0.5)                                      # other node: missed for now

        proxy.up()
        # once resubscribed, node B tells its clients to resync; the client then syncs the gap.
        # Node A, whose publishes were dropped meanwhile, has B's clients told again when its own
        # publishing connection is back: a second `resync` may come at any point here.
        assert await kefu_b.expect("resync", timeout=15) == {}
        await kefu_b.send("sync", {"shop_id": 1, "user_id": 7, "after_seq": 0})
        frames = []
        while not frames or frames[-1]["event"] != "sync":
            frame = await kefu_b.receive(timeout=15)
            if frame["event"] != "resync":
                frames.append(frame)
        assert [f["event"] for f in frames] == ["chat", "sync"]
        assert frames[0]["data"]["id"] == echo["id"]
        assert frames[1]["data"]["recovered"] is True
    finally:
        for sock in node_a.sockets + node_b.sockets:
            await sock.close()
        await proxy.close()
