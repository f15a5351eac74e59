"""Who is calling: the `token` header resolved against the session tables.

Missing, malformed, unknown, expired and logged-out tokens all raise `NotLoggedIn` (code -1).
"""
from __future__ import annotations

import asyncpg
from aiohttp import web

from commerce_api.data.admin_sessions import admin_by_token
from commerce_api.data.user_sessions import user_by_token
from shared.service import POOL
from shared.web import NotLoggedIn, request_token


async def current_user(request: web.Request) -> asyncpg.Record:
    """The buyer calling (a `user` row plus `session_client`)."""
    user = await user_by_token(request.app[POOL], request_token(request))
    if user is None:
        raise NotLoggedIn()
    return user


async def current_admin(request: web.Request, admin_type: str) -> asyncpg.Record:
    """The back-office admin calling: admin_type 'admin' for /adminapi, 'shop_admin' for /shopapi.
    The row carries `shop_id` (0 for the platform)."""
    admin = await admin_by_token(request.app[POOL], request_token(request), admin_type)
    if admin is None:
        raise NotLoggedIn()
    return admin
