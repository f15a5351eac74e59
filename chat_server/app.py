"""App factory of the chat server."""
from __future__ import annotations

import asyncio
import gc
import secrets
from typing import AsyncIterator

from aiohttp import web

from chat_server import closecodes
from chat_server.broker_memory import MemoryBroker
from chat_server.broker_redis import RedisBroker
from chat_server.chat import ChatService
from chat_server.commerce import CommerceClient
from chat_server.hub import Hub
from chat_server.limits import Limits
from chat_server.keys import CHAT, COMMERCE, HUB, LIMITS, PRESENCE, REVOCATION, SWEEPER, TASKS
from chat_server.presence_memory import MemoryPresence
from chat_server.presence_redis import RedisPresence
from chat_server.protocol import frame
from chat_server.revocation import RevocationListener
from chat_server.sweeper import IdleSweeper
from chat_server.tasks import Tasks
from chat_server.writer import MessageWriter
from chat_server.views import routes
from shared.service import POOL, SETTINGS, add_health_routes, pool_ctx
from shared.settings import Settings
from shared.web import standard_middlewares


async def chat_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: fan-out, presence, the commerce client, the chat service and background tasks."""
    settings = app[SETTINGS]
    hub = Hub(MemoryBroker())
    if settings.redis_url:
        node_id = secrets.token_hex(8)
        hub.broker = RedisBroker(settings.redis_url, hub.topics, on_reconnect=lambda: ask_all_to_sync(hub),
                                 node_id=node_id)
        presence = RedisPresence(settings.redis_url, node_id, ttl=settings.presence_ttl)
    else:
        presence = MemoryPresence()
    broker = hub.broker
    await broker.start(hub.deliver_local)
    await presence.start()
    commerce = CommerceClient(settings.commerce_url, settings.require_internal_key(), settings.commerce_timeout)
    await commerce.start()
    sweeper = IdleSweeper(settings.idle_timeout)
    sweeper.start()
    revocation = RevocationListener(settings.require_database(), hub)
    revocation.start()
    app[HUB], app[PRESENCE], app[COMMERCE], app[SWEEPER], app[REVOCATION] = hub, presence, commerce, sweeper, revocation
    writer = MessageWriter(app[POOL], enabled=settings.group_commit, max_batch=settings.group_commit_max_batch)
    writer.start()
    app[TASKS] = Tasks()
    app[CHAT] = ChatService(settings, app[POOL], hub, presence, commerce, writer, app[TASKS])
    yield
    # Events already accepted and unregistrations still need the database: let them finish.
    await app[TASKS].drain(timeout=10)
    await writer.stop()
    await revocation.stop()
    await sweeper.stop()
    await commerce.close()
    await presence.close()
    await broker.close()


async def ask_all_to_sync(hub: Hub) -> None:
    """After a Redis outage frames from other nodes may have been missed: every client re-syncs."""
    payload = frame("resync", {})
    for conn in hub:
        conn.send(payload)


async def close_connections(app: web.Application) -> None:
    """on_shutdown: tell every client to reconnect elsewhere (1012) before the server stops."""
    await asyncio.gather(*(conn.close(closecodes.RESTARTING) for conn in app[HUB]), return_exceptions=True)


def tune_gc() -> None:
    """Tens of thousands of long-lived connection objects make CPython's default collection
    thresholds (700 allocations) rescan them constantly: profiled at 38 % of the CPU of an idle
    node with 20,000 sockets, and multi-second ping stalls. Collect young objects less often."""
    gc.set_threshold(50_000, 50, 100)


def create_app(settings: Settings) -> web.Application:
    settings.require_internal_key()
    app = web.Application(middlewares=standard_middlewares("chat_server"))
    app[SETTINGS] = settings
    app[LIMITS] = Limits(settings)
    app.cleanup_ctx.append(pool_ctx)
    app.cleanup_ctx.append(chat_ctx)
    app.on_shutdown.append(close_connections)
    add_health_routes(app)
    routes.setup(app)
    return app
