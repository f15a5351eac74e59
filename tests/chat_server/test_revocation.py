"""Open sockets end with their login (sql/0008, chat_server/revocation.py): buyer logout, a buyer
disabled or deleted, a buyer's or kefu's session expiring, a shop frozen or deleted, each close the
affected sockets at once with an `error` frame and 4001, and only those; on every node."""
import asyncio

import aiohttp
import orjson
import pytest

from chat_server.keys import HUB, REVOCATION
from tests.chat_server.conftest import Chat, Socket
from tests.chat_server.test_multinode import make_node

REVOKED = {"event": "error", "data": {"msg": "账号已退出登录或被禁用", "msg_type": 1}}
EXPIRED = {"event": "error", "data": {"msg": "登录已失效，请重新登录", "msg_type": 1}}
SHOP_REVOKED = {"event": "error", "data": {"msg": "店铺已被冻结或关闭", "msg_type": 1}}


async def listening(*nodes: Chat) -> None:
    for node in nodes:
        await asyncio.wait_for(node.app[REVOCATION].listening.wait(), 5)


async def closed_with(sock: Socket, error: dict, timeout: float = 10) -> None:
    """The server sent `error` as its last frame, then the close frame 4001, and the client saw
    that code: on the message and on the socket once the handshake ended."""
    code, frames = await sock.closed(timeout)
    assert code == 4001, (code, frames)
    assert frames and frames[-1] == error, frames
    assert sock.ws.close_code == 4001


async def still_open(sock: Socket) -> None:
    await sock.send("ping")
    assert isinstance((await sock.expect("ping"))["client_time"], int)


async def test_buyer_logout_closes_that_logins_sockets(live, commerce_server):
    await listening(live)
    token = await live.user_token(7)
    tab1 = await live.connect(f"token={token}&type=user&client=6&shop_id=1")
    tab2 = await live.connect(f"token={token}&type=user&client=6&shop_id=2")
    other_device = await live.user(7, shop_id=1, client=3)       # another login of the same buyer
    someone_else = await live.user(8, shop_id=1)
    async with aiohttp.ClientSession() as http:
        async with http.post(commerce_server.make_url("/api/account/logout"), headers={"token": token}) as resp:
            assert (await resp.json())["code"] == 1
    await closed_with(tab1, REVOKED)
    await closed_with(tab2, REVOKED)
    await still_open(other_device)
    await still_open(someone_else)
    refused = await live.connect(f"token={token}&type=user&client=6&shop_id=1", expect_login=False)
    assert (await refused.closed())[0] == 4001


@pytest.mark.parametrize("change", ["UPDATE \"user\" SET disable = 1 WHERE id = $1",
                                    "UPDATE \"user\" SET del = 1 WHERE id = $1"],
                         ids=["disabled", "deleted"])
async def test_buyer_disabled_or_deleted_closes_all_its_sockets(live, change):
    await listening(live)
    kefu = await live.kefu(2)
    web = await live.user(7, shop_id=1)
    app = await live.user(7, shop_id=2, client=4)
    someone_else = await live.user(8, shop_id=1)
    await live.db.execute(change, 7)
    await closed_with(web, REVOKED)
    await closed_with(app, REVOKED)
    await still_open(someone_else)
    await still_open(kefu)


async def test_buyer_hard_deleted_closes_its_sockets(live):
    await listening(live)
    user_id = await live.db.fetchval("""INSERT INTO "user" (sn, nickname) VALUES ('gone', '临时') RETURNING id""")
    sock = await live.user(user_id, shop_id=1)
    async with live.db.transaction():
        await live.db.execute("DELETE FROM session WHERE user_id = $1", user_id)
        await live.db.execute('DELETE FROM "user" WHERE id = $1', user_id)
    await closed_with(sock, REVOKED)


async def expire_soon(db, table: str, principal_column: str, principal_id: int, seconds: float):
    """Move the session's expiry `seconds` ahead; returns it."""
    return await db.fetchval(
        f"UPDATE {table} SET expire_time = now() + make_interval(secs => $2) WHERE {principal_column} = $1"
        " RETURNING expire_time", principal_id, seconds)


async def test_buyer_session_expiry_closes_at_that_time(live):
    await listening(live)
    sock = await live.user(7, shop_id=1)
    other_device = await live.user(7, shop_id=1, client=3)
    await live.db.execute("UPDATE session SET expire_time = now() + interval '1.5 seconds'"
                          " WHERE user_id = 7 AND client = 6")
    await closed_with(sock, EXPIRED)
    # not before the expiry (on the database's clock, which decided the handshake)
    assert await live.db.fetchval("SELECT expire_time <= now() FROM session WHERE user_id = 7 AND client = 6")
    await still_open(other_device)


async def test_an_expiry_read_at_the_handshake_closes_the_socket_without_any_notification(live):
    await listening(live)
    token = await live.kefu_token(2)
    await live.db.execute("UPDATE kefu_session SET expire_time = now() + interval '1.5 seconds' WHERE kefu_id = 2")
    sock = await live.connect(f"token={token}&type=kefu&client=5")   # opened after the change
    await closed_with(sock, EXPIRED)
    assert await live.db.fetchval("SELECT expire_time <= now() FROM kefu_session WHERE kefu_id = 2")


async def test_kefu_session_expiry_closes_at_that_time_and_an_extension_moves_it(live):
    await listening(live)
    kefu = await live.kefu(2)
    other_kefu = await live.kefu(3)
    await live.db.execute("UPDATE kefu_session SET expire_time = now() + interval '1 second' WHERE kefu_id = 3")
    await live.db.execute("UPDATE kefu_session SET expire_time = now() + interval '1 hour' WHERE kefu_id = 3")
    await live.db.execute("UPDATE kefu_session SET expire_time = now() + interval '1.5 seconds' WHERE kefu_id = 2")
    await closed_with(kefu, EXPIRED)
    assert await live.db.fetchval("SELECT expire_time <= now() FROM kefu_session WHERE kefu_id = 2")
    # kefu 3's one-second expiry passed meanwhile, but it was moved an hour ahead
    await still_open(other_kefu)


@pytest.mark.parametrize("change", ["UPDATE shop SET is_freeze = 1 WHERE id = $1",
                                    "UPDATE shop SET del = 1 WHERE id = $1"], ids=["frozen", "deleted"])
async def test_shop_frozen_or_deleted_closes_its_kefus_and_its_buyers_sockets(live, change):
    await listening(live)
    kefu_a, kefu_b = await live.kefu(2), await live.kefu(3)
    buyer = await live.user(7, shop_id=1)
    same_buyer_other_shop = await live.user(7, shop_id=2)
    other_shop_kefu = await live.kefu(4)
    platform_kefu = await live.kefu(1)
    await live.db.execute(change, 1)
    for sock in (kefu_a, kefu_b, buyer):
        await closed_with(sock, SHOP_REVOKED)
    for sock in (same_buyer_other_shop, other_shop_kefu, platform_kefu):
        await still_open(sock)
    # the shop's kefu logins are gone, and nobody connects to the shop again
    assert await live.db.fetchval("SELECT count(*) FROM kefu_session WHERE shop_id = 1") == 0
    refused = await live.connect(f"token={await live.user_token(8)}&type=user&client=6&shop_id=1",
                                 expect_login=False)
    code, frames = await refused.closed()
    assert code == 4003 and frames == [{"event": "error", "data": {"msg": "店铺不存在", "msg_type": 1}}]


async def test_kefu_row_disabled_by_plain_sql_closes_4001(live):
    """Not only the back-office API: any writer that disables the kefu row (a trigger NOTIFYs)."""
    await listening(live)
    kefu = await live.kefu(2)
    other = await live.kefu(3)
    await live.db.execute("UPDATE kefu SET disable = 1 WHERE id = 2")
    await closed_with(kefu, REVOKED)
    assert await live.db.fetchval("SELECT count(*) FROM kefu_session WHERE kefu_id = 2") == 0
    await still_open(other)


async def until(condition, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_revocation_during_the_handshake_is_not_missed(live):
    """A change that lands after the token was checked but before the socket is registered."""
    await listening(live)
    revocation = live.app[REVOCATION]
    sock = await live.user(8, shop_id=1)
    conn = live.app[HUB].of_principal("user", 8)[0]
    checked_at = asyncio.get_running_loop().time()
    # as if it were between its token check and its registration: in no index yet
    await live.app[HUB].remove(conn)
    revocation.untrack(conn)
    await live.db.execute('UPDATE "user" SET disable = 1 WHERE id = 8')
    await until(lambda: ("principal", "user", 8) in revocation._recent)
    await still_open(sock)                  # the notification found nothing to close
    await live.app[HUB].add(conn)           # registration applies it
    revocation.track(conn, checked_at)
    await closed_with(sock, REVOKED)


async def test_revocation_reaches_sockets_on_the_other_node(settings_env, commerce_server, redis_url, db,
                                                            aiohttp_client):
    env = {**settings_env, "REDIS_URL": redis_url, "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/")}
    node_a = await make_node(aiohttp_client, env, db)
    node_b = await make_node(aiohttp_client, env, db)
    await listening(node_a, node_b)
    try:
        token = await node_a.user_token(7)
        on_b = await node_b.connect(f"token={token}&type=user&client=6&shop_id=1")
        kefu_on_b = await node_b.kefu(2)
        kefu_on_a = await node_a.kefu(3)
        # the change is made through node A's service (buyer logout on the commerce API) ...
        async with aiohttp.ClientSession() as http:
            async with http.post(commerce_server.make_url("/api/account/logout"), headers={"token": token}) as resp:
                assert (await resp.json())["code"] == 1
        await closed_with(on_b, REVOKED)
        # ... or by SQL: the shop frozen closes its kefus' sockets on both nodes
        await db.execute("UPDATE shop SET is_freeze = 1 WHERE id = 1")
        await closed_with(kefu_on_b, SHOP_REVOKED)
        await closed_with(kefu_on_a, SHOP_REVOKED)
    finally:
        for sock in node_a.sockets + node_b.sockets:
            await sock.close()


async def test_a_kefu_disabled_in_the_back_office_while_talking_sees_4001(live, commerce_server):
    """What the console sees (issue 11: it saw 1006): the error frame, then 4001, and the closing
    handshake completes, even while it keeps sending frames of its own as the close comes."""
    from tests.commerce_api.helpers import call, login
    await listening(live)
    kefu = await live.kefu(2)
    other = await live.kefu(3)

    async def chatter() -> None:
        try:
            while True:
                await kefu.send("ping")
                await asyncio.sleep(0.005)
        except (ConnectionError, RuntimeError):   # the socket is closing: aiohttp refuses to send
            return
    sender = asyncio.get_running_loop().create_task(chatter())
    async with aiohttp.ClientSession(base_url=str(commerce_server.make_url("/"))) as http:
        token = await login(http)
        body = await call(http, "POST", "/shopapi/kefu/status", token, json={"id": 2, "disable": 1})
        assert body["code"] == 1, body
    code, frames = await kefu.closed()
    sender.cancel()
    assert code == 4001
    assert [f for f in frames if f["event"] != "ping"] == [REVOKED]
    assert kefu.ws.close_code == 4001
    await still_open(other)


async def test_changes_made_while_the_node_was_not_listening_are_applied_when_it_listens_again(live):
    await listening(live)
    revocation = live.app[REVOCATION]
    revocation.retry_delay = 3      # the gap in which the changes below are made
    disabled_buyer = await live.user(8, shop_id=2)
    logged_out = await live.user(7, shop_id=2)
    frozen_shop_kefu = await live.kefu(2)
    untouched = await live.kefu(4)
    await live.db.execute("SELECT pg_terminate_backend($1)", revocation.listener_pid)
    await until(lambda: not revocation.listening.is_set())
    await live.db.execute('UPDATE "user" SET disable = 1 WHERE id = 8')
    await live.db.execute("UPDATE session SET expire_time = now() WHERE user_id = 7 AND client = 6")
    await live.db.execute("UPDATE shop SET is_freeze = 1 WHERE id = 1")
    assert revocation.rechecks == 0      # the node heard none of it
    await closed_with(disabled_buyer, REVOKED)
    await closed_with(logged_out, REVOKED)
    await closed_with(frozen_shop_kefu, SHOP_REVOKED)
    assert revocation.rechecks == 1
    await still_open(untouched)
