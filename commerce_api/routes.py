"""Every path of the commerce API, in one table. Paths are lower case: matching is case-insensitive."""
from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
