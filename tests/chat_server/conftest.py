"""Chat server fixtures: the commerce API and the chat server both running (real TCP, real Postgres),
tokens minted straight into the session tables, and a small WebSocket client for the protocol."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from shared.settings import Settings
from shared.tokens import new_token


@dataclass
class Chat:
    """What a chat test needs: the chat server's client, its app and the database."""
    client: Any
    app: Any
    db: Any
    settings: Settings
    sockets: list = field(default_factory=list)

    @property
    def ws_base(self) -> str:
        return str(self.client.make_url("/"))

    async def user_token(self, user_id: int, client: int = 6, fresh: bool = False) -> str:
        """The buyer's live token for that client (tabs share it), or a new login's with `fresh`."""
        return await self.db.fetchval(
            "INSERT INTO session (user_id, token, client, expire_time) VALUES ($1, $2, $3, now() + interval '1 hour')"
            " ON CONFLICT (user_id, client) DO UPDATE SET expire_time = EXCLUDED.expire_time,"
            " token = CASE WHEN $4 OR session.expire_time <= now() THEN EXCLUDED.token ELSE session.token END"
            " RETURNING token", user_id, new_token(), client, fresh)

    async def kefu_token(self, kefu_id: int, fresh: bool = False) -> str:
        return await self.db.fetchval(
            "INSERT INTO kefu_session (kefu_id, shop_id, token, client, expire_time)"
            " SELECT id, shop_id, $2, 5, now() + interval '1 hour' FROM kefu WHERE id = $1"
            " ON CONFLICT (kefu_id, client) DO UPDATE SET expire_time = EXCLUDED.expire_time,"
            " token = CASE WHEN $3 OR kefu_session.expire_time <= now() THEN EXCLUDED.token"
            " ELSE kefu_session.token END RETURNING token", kefu_id, new_token(), fresh)

    async def connect(self, query: str, expect_login: bool = True) -> "Socket":
        ws = await self.client.session.ws_connect(self.client.make_url("/?" + query), autoping=True)
        sock = Socket(ws)
        self.sockets.append(sock)
        if expect_login:
            first = await sock.receive()
            second = await sock.receive()
            assert first["event"] == "ping" and isinstance(first["data"]["client_time"], int)
            assert second == {"event": "login", "data": {"msg": "连接成功", "msg_type": 1}}
        return sock

    async def user(self, user_id: int, shop_id: int = 1, client: int = 6, **kw) -> "Socket":
        token = await self.user_token(user_id, client)
        return await self.connect(f"token={token}&type=user&client={client}&shop_id={shop_id}", **kw)

    async def kefu(self, kefu_id: int, shop_id: int | None = None, **kw) -> "Socket":
        token = await self.kefu_token(kefu_id)
        shop = "" if shop_id is None else f"&shop_id={shop_id}"
        return await self.connect(f"token={token}&type=kefu&client=5{shop}", **kw)


class Socket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws

    async def send(self, event: str, data: Any = None) -> None:
        await self.ws.send_str(orjson.dumps({"event": event, "data": data}).decode())

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def receive(self, timeout: float = 5) -> dict:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type} {msg.data!r} {msg.extra!r}"
        return orjson.loads(msg.data)

    async def expect(self, event: str, timeout: float = 5) -> dict:
        """The next frame of `event`, skipping server pings; fails on anything else."""
        while True:
            frame = await self.receive(timeout)
            if frame["event"] == "ping" and event != "ping":
                continue
            assert frame["event"] == event, f"expected {event}, got {frame}"
            return frame["data"]

    async def nothing(self, within: float = 0.3) -> None:
        """Assert no frame (other than a ping) arrives within `within` seconds."""
        try:
            while True:
                msg = await self.ws.receive(timeout=within)
                if msg.type == aiohttp.WSMsgType.TEXT and orjson.loads(msg.data)["event"] == "ping":
                    continue
                raise AssertionError(f"unexpected frame {msg.type} {msg.data!r}")
        except asyncio.TimeoutError:
            return

    async def closed(self, timeout: float = 5) -> tuple[int, list[dict]]:
        """Read until the server closes; (close code, frames received before it)."""
        frames = []
        while True:
            msg = await self.ws.receive(timeout=timeout)
            if msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(orjson.loads(msg.data))
                continue
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING), msg
            # the code the server sent (close_code can still read 1006 while the closing handshake ends)
            return (msg.data if msg.type == aiohttp.WSMsgType.CLOSE else self.ws.close_code), frames

    async def close(self) -> None:
        await self.ws.close()


@pytest.fixture
async def commerce_server(settings: Settings):
    """The commerce API on a real port (the chat server calls its internal API)."""
    from commerce_api.app import create_app
    server = TestServer(create_app(settings))
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def chat_settings(settings_env: dict, commerce_server: TestServer) -> Settings:
    return Settings.from_env({**settings_env, "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/"),
                              "COMMERCE_TIMEOUT_MS": "1000"})


@pytest.fixture
async def live(chat_settings: Settings, db, aiohttp_client) -> Chat:
    # the database first, so that it is torn down after the app
    from chat_server.app import create_app
    app = create_app(chat_settings)
    client = await aiohttp_client(app)
    chat = Chat(client=client, app=app, db=db, settings=chat_settings)
    yield chat
    for sock in chat.sockets:
        await sock.close()


@pytest.fixture
async def node(settings_env: dict, commerce_server: TestServer, db, aiohttp_client):
    """A factory of chat nodes with extra settings: `live = await node(GROUP_COMMIT="0")`."""
    from chat_server.app import create_app
    made: list[Chat] = []

    async def make(**env: str) -> Chat:
        settings = Settings.from_env({**settings_env, "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/"),
                                      **env})
        app = create_app(settings)
        chat = Chat(client=await aiohttp_client(app), app=app, db=db, settings=settings)
        made.append(chat)
        return chat
    yield make
    for chat in made:
        for sock in chat.sockets:
            await sock.close()
