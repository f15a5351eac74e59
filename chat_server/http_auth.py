"""Who is calling the chat server over HTTP: the `token` header resolved to a kefu (the console,
/kefuapi/*) or a buyer (/api/*).

Missing, malformed, unknown, expired and logged-out tokens raise `NotLoggedIn` (code -1), and so
does a kefu that is disabled or deleted or whose bound admin account is: the clients go back to
their login page. A buyer's token never works as a kefu's, nor the other way round: each is looked
up in its own session table.
"""
from __future__ import annotations

import asyncpg
from aiohttp import web

from chat_server.data import principals
from shared.service import POOL
from shared.web import NotLoggedIn, request_token


async def current_kefu(request: web.Request) -> asyncpg.Record:
    """{id, shop_id, nickname, avatar} of the usable kefu behind the token."""
    kefu = await principals.kefu_by_session_token(request.app[POOL], request_token(request))
    if kefu is None:
        raise NotLoggedIn()
    return kefu


async def current_buyer(request: web.Request) -> asyncpg.Record:
    """{id, nickname, avatar} of the live, enabled buyer behind the token."""
    user = await principals.user_by_session_token(request.app[POOL], request_token(request))
    if user is None:
        raise NotLoggedIn()
    return user
