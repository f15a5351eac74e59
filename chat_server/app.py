"""App factory of the chat server."""
from __future__ import annotations

from aiohttp import web

from shared.service import SETTINGS, add_health_routes, pool_ctx
from shared.settings import Settings
from shared.web import standard_middlewares


def create_app(settings: Settings) -> web.Application:
    settings.require_internal_key()
    app = web.Application(middlewares=standard_middlewares("chat_server"))
    app[SETTINGS] = settings
    app.cleanup_ctx.append(pool_ctx)
    add_health_routes(app)
    return app
