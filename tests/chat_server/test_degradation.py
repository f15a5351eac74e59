"""Degradation: with Postgres unreachable a `chat` gets an error frame and nothing is half-written,
pings are still answered, and the node recovers by itself when the database returns."""
from urllib.parse import urlsplit

import pytest

from shared.settings import Settings
from tests.chat_server.conftest import Chat
from tests.chat_server.test_events import start_conversation
from tests.tcp_proxy import TcpProxy


@pytest.fixture
async def db_proxy(db_dsn):
    parts = urlsplit(db_dsn)
    proxy = await TcpProxy(parts.hostname, parts.port or 5432).start()
    yield proxy, parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
    await proxy.close()


async def test_database_down_then_back(settings_env, commerce_server, db, db_proxy, aiohttp_client):
    from chat_server.app import create_app
    proxy, proxied_dsn = db_proxy
    settings = Settings.from_env({**settings_env, "DATABASE_URL": proxied_dsn,
                                  "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/")})
    app = create_app(settings)
    live = Chat(client=await aiohttp_client(app), app=app, db=db, settings=settings)
    kefu, user = await start_conversation(live)

    proxy.down()
    await user.send("chat", {"msg": "lost?", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    assert (await user.expect("error"))["msg"] == "服务繁忙，请稍后再试"
    await user.send("ping")
    assert isinstance((await user.expect("ping"))["client_time"], int)
    await kefu.nothing()
    assert await db.fetchval("SELECT count(*) FROM chat_record") == 0
    assert await db.fetchval("SELECT last_seq FROM chat_relation WHERE shop_id = 1 AND user_id = 7") == 0

    # a new connection meanwhile is told to come back later
    token = await live.user_token(8)
    sock = await live.connect(f"token={token}&type=user&client=6&shop_id=1", expect_login=False)
    code, frames = await sock.closed()
    assert code == 1013 and frames[0]["data"]["msg"] == "服务繁忙，请稍后再试"

    proxy.up()
    await user.send("chat", {"msg": "back", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    echo = await user.expect("chat")
    assert echo["msg"] == "back" and echo["seq"] == 1
    assert (await kefu.expect("chat"))["id"] == echo["id"]
    for sock in live.sockets:
        await sock.close()
