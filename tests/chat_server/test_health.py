"""The chat server skeleton starts, answers its probes, and reports a dead database as not ready."""
from shared.settings import Settings


async def test_healthz_and_readyz(chat):
    resp = await chat.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["data"] == {"status": "ok"}
    resp = await chat.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["code"] == 1


async def test_readyz_fails_when_database_unreachable(aiohttp_client, settings_env, db_dsn):
    from chat_server.app import create_app
    from shared.service import POOL
    app = create_app(Settings.from_env(settings_env))
    client = await aiohttp_client(app)
    await app[POOL].close()  # the database "goes away" for this process
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["code"] == 0 and "database unavailable" in body["msg"]
