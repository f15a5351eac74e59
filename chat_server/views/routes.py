"""Every path of the chat server. Paths are lower case: matching is case-insensitive."""
from __future__ import annotations

from aiohttp import web

from chat_server.views import ws


def setup(app: web.Application) -> None:
    app.router.add_get("/", ws.websocket)
    app.router.add_get("/ws", ws.websocket)
