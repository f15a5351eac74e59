"""Graceful shutdown of a real chat server process: SIGTERM stops accepting, tells every client to
reconnect (1012), stores what was accepted, exits in bounded time; a restarted node serves again."""
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import orjson

from shared.settings import Settings
from shared.tokens import new_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_node(env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "chat_server"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['CHAT_PORT']}/healthz"
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode()
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("chat server did not start")


async def test_sigterm_closes_1012_and_exits_then_restart_serves(settings_env, commerce_server, db):
    port = free_port()
    env = {**os.environ, **Settings.from_env({**settings_env, "CHAT_PORT": str(port),
                                              "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/")}).as_env()}
    env.pop("REDIS_URL", None)
    user_token, kefu_token = new_token(), new_token()
    await db.execute("INSERT INTO session (user_id, token, client, expire_time) VALUES (7, $1, 6, now() + interval '1 hour')",
                     user_token)
    await db.execute("INSERT INTO kefu_session (kefu_id, shop_id, token, client, expire_time)"
                     " VALUES (2, 1, $1, 5, now() + interval '1 hour')", kefu_token)
    proc = await start_node(env)
    try:
        async with aiohttp.ClientSession() as session:
            base = f"ws://127.0.0.1:{port}/"
            kefu = await session.ws_connect(f"{base}?token={kefu_token}&type=kefu&client=5")
            user = await session.ws_connect(f"{base}?token={user_token}&type=user&client=6&shop_id=1")
            for ws in (kefu, user):
                await ws.receive()
                await ws.receive()
            await user.send_str(orjson.dumps({"event": "chat", "data": {
                "msg": "before", "msg_type": 1, "to_id": 2, "to_type": "kefu", "client_msg_id": "b1"}}).decode())
            assert orjson.loads((await user.receive()).data)["data"]["client_msg_id"] == "b1"

            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            for ws in (kefu, user):
                while (await ws.receive(timeout=15)).type == aiohttp.WSMsgType.TEXT:
                    pass
                assert ws.close_code == 1012
            assert proc.wait(timeout=20) == 0
            assert time.monotonic() - started < 20
            assert await db.fetchval("SELECT count(*) FROM chat_record WHERE client_msg_id = 'b1'") == 1

            proc = await start_node(env)                 # the same node comes back
            user = await session.ws_connect(f"{base}?token={user_token}&type=user&client=6&shop_id=1")
            assert orjson.loads((await user.receive()).data)["event"] == "ping"
            assert orjson.loads((await user.receive()).data)["event"] == "login"
            await user.send_str('{"event":"sync","data":{"shop_id":1,"after_seq":0}}')
            assert orjson.loads((await user.receive()).data)["data"]["client_msg_id"] == "b1"
            await user.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
