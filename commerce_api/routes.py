"""Every path of the commerce API. Paths are registered in lower case: matching is
case-insensitive (shared.web.case_insensitive_middleware)."""
from __future__ import annotations

from aiohttp import web

from commerce_api.views import backoffice, buyer, files, internal


def setup(app: web.Application) -> None:
    buyer.setup_routes(app)
    backoffice.setup_routes(app)
    files.setup_routes(app)
    internal.setup_routes(app)
