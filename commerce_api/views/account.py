"""Buyer accounts: /api/account/login, /register, /logout."""
from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from commerce_api.auth import current_user
from commerce_api.data import user_sessions, users
from commerce_api.schemas_buyer import LoginInput, RegisterInput
from shared.passwords import check_password, make_password
from shared.service import POOL, SETTINGS
from shared.urls import file_url
from shared.web import ApiError, ok, parse

_login_input = LoginInput()
_register_input = RegisterInput()


def _login_data(user: asyncpg.Record, token: str, request: web.Request) -> dict[str, Any]:
    return {"id": user["id"], "nickname": user["nickname"],
            "avatar": file_url(request.app[SETTINGS].public_base_url, user["avatar"]), "level": user["level"], "token": token}


async def login(request: web.Request) -> web.Response:
    """Mobile + password. The password is checked before the disabled flag, so that only someone who
    knows the password learns that the account is disabled."""
    args = await parse(request, _login_input)
    pool = request.app[POOL]
    user = await users.user_for_login(pool, args["mobile"])
    if user is None:
        raise ApiError("账号不存在")
    valid, new_hash = await check_password(user["password"], user["salt"], args["password"])
    if not valid:
        raise ApiError("密码错误")
    if user["disable"]:
        raise ApiError("账号已禁用")
    async with pool.acquire() as conn, conn.transaction():
        await users.record_login(conn, user["id"], request.remote or "", new_hash)
        token = await user_sessions.open_session(conn, user["id"], args["client"],
                                                 request.app[SETTINGS].user_token_ttl)
    return ok(_login_data(user, token, request), "登录成功", show=1)


async def register(request: web.Request) -> web.Response:
    """A new buyer account, logged in on the calling client."""
    args = await parse(request, _register_input)
    pool = request.app[POOL]
    # Checked first to spare the hashing work; the unique index still decides a race.
    if await users.mobile_in_use(pool, args["mobile"]):
        raise ApiError("手机号已注册")
    password_hash = await make_password(args["password"])
    async with pool.acquire() as conn, conn.transaction():
        try:
            user = await users.create_user(conn, args["mobile"], password_hash, args["client"], request.remote or "")
        except users.MobileTaken:
            raise ApiError("手机号已注册") from None
        token = await user_sessions.open_session(conn, user["id"], args["client"],
                                                 request.app[SETTINGS].user_token_ttl)
    return ok(_login_data(user, token, request), "注册成功", show=1)


async def logout(request: web.Request) -> web.Response:
    """Ends the caller's session on its client; other clients stay logged in."""
    user = await current_user(request)
    await user_sessions.close_session(request.app[POOL], user["id"], user["session_client"])
    return ok(msg="退出成功", show=1)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/account/login", login)
    app.router.add_post("/api/account/register", register)
    app.router.add_post("/api/account/logout", logout)
