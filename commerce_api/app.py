"""App factory of the commerce API."""
from __future__ import annotations

from aiohttp import web

from commerce_api import routes
from shared.service import SETTINGS, add_health_routes, pool_ctx
from shared.settings import Settings
from shared.web import standard_middlewares


def create_app(settings: Settings) -> web.Application:
    settings.require_internal_key()
    app = web.Application(middlewares=standard_middlewares("commerce_api"),
                          client_max_size=settings.upload_max_bytes + 64 * 1024)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(pool_ctx)
    add_health_routes(app)
    routes.setup(app)
    return app
