"""What both aiohttp services share: typed app keys, the pool's cleanup context, health probes and
the process entry point (settings → logging → uvloop → run_app, with a clear error for bad config).
"""
from __future__ import annotations

import asyncio
import logging
import sys
from typing import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from shared.db import create_pool
from shared.settings import Settings, SettingsError
from shared.web import ok, setup_logging

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)

log = logging.getLogger("kefu.service")


async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: open the database pool at start-up, close it at shutdown."""
    settings = app[SETTINGS]
    app[POOL] = await create_pool(settings.require_database(), min_size=settings.db_pool_min,
                                  max_size=settings.db_pool_max)
    yield
    await asyncio.wait_for(app[POOL].close(), timeout=10)


async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return ok({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers; 503 otherwise so that a balancer takes the node out."""
    try:
        async with asyncio.timeout(2):
            await request.app[POOL].fetchval("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the reason goes to the body
        return web.json_response({"code": 0, "show": 0, "msg": f"database unavailable: {type(exc).__name__}",
                                  "data": []}, status=503)
    return ok({"status": "ready"})


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


def main(service: str, make_app: Callable[[Settings], web.Application],
         host_port: Callable[[Settings], tuple[str, int]]) -> None:
    try:
        settings = Settings.from_env()
        settings.require_database()
        app = make_app(settings)
    except SettingsError as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2)
    setup_logging(settings.log_level)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency everywhere but Windows
        uvloop = None
    host, port = host_port(settings)
    log.info("%s listening on http://%s:%s", service, host, port)
    web.run_app(app, host=host, port=port, access_log=None, print=None, shutdown_timeout=10, backlog=1024,
                loop=uvloop.new_event_loop() if uvloop else None)
