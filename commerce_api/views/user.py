"""The buyer's own profile: /api/user/info."""
from __future__ import annotations

from aiohttp import web

from commerce_api.auth import current_user
from commerce_api.data import users
from commerce_api.views.present import format_date
from shared.service import POOL, SETTINGS
from shared.timefmt import format_time
from shared.urls import file_url
from shared.web import NotLoggedIn, ok


async def info(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    caller = await current_user(request)
    profile = await users.user_profile(request.app[POOL], caller["id"])
    if profile is None:  # deleted since the token was checked
        raise NotLoggedIn()
    del profile["disable"]
    profile["avatar"] = file_url(settings.public_base_url, profile["avatar"])
    profile["mobile"] = profile["mobile"] or ""
    profile["birthday"] = format_date(profile["birthday"])
    profile["create_time"] = format_time(profile["create_time"], settings.time_zone)
    return ok(profile)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/user/info", info)
