"""Back-office accounts: login and logout of merchant admins (/shopapi) and platform admins
(/adminapi), and the merchant's own shop."""
from __future__ import annotations

from aiohttp import web
from marshmallow import fields, validate

from commerce_api.auth import current_admin
from commerce_api.data import admin_sessions, admins, config
from commerce_api.views.admin_family import add_family_routes
from commerce_api.views.backoffice_inputs import WholeNumber, text_field, with_times
from shared.passwords import check_account_password
from shared.service import POOL, SETTINGS
from shared.web import ApiError, Input, ok, parse, request_token

CLIENTS = (1, 2, 3, 4, 5, 6)   # mini-program, WeChat H5, iOS, Android, pc, plain H5
WRONG_CREDENTIALS = "账号或密码错误"


class LoginInput(Input):
    account = text_field("账号", 64, required=True)
    password = fields.String(required=True, validate=[validate.Length(min=1, error="请输入密码"),
                                                      validate.Length(max=128, error="密码不能超过 128 个字符")],
                             error_messages={"required": "请输入密码", "invalid": "密码必须是字符串",
                                             "null": "请输入密码"})
    client = WholeNumber(load_default=5, validate=validate.OneOf(CLIENTS, error="无效的客户端"),
                         error_messages={"invalid": "无效的客户端", "null": "无效的客户端"})


_login_input = LoginInput()


async def login(request: web.Request, admin_type: str) -> web.Response:
    args = await parse(request, _login_input)
    pool, settings = request.app[POOL], request.app[SETTINGS]
    account = await admins.account_for_login(pool, admin_type, args["account"])
    valid, new_hash = await check_account_password(account, args["password"])
    if not valid:
        raise ApiError(WRONG_CREDENTIALS)
    if account["disable"]:
        raise ApiError("账号已禁用")
    await admins.record_login(pool, admin_type, account["id"], request.remote or "", new_hash)
    token = await admin_sessions.open_admin_session(pool, admin_type, account["id"], account["shop_id"],
                                                    args["client"], settings.admin_token_ttl)
    if admin_type == "admin":
        shop_name = (await config.get_config(pool, 0, config.WEBSITE, ("name",)))["name"]
    else:
        shop_name = account["shop_name"]
    return ok({"id": account["id"], "name": account["name"], "account": account["account"],
               "avatar": account["avatar"], "shop_id": account["shop_id"], "shop_name": shop_name,
               "token": token}, msg="登录成功")


async def logout(request: web.Request, admin_type: str) -> web.Response:
    await current_admin(request, admin_type)
    await admin_sessions.end_admin_session(request.app[POOL], request_token(request), admin_type)
    return ok(msg="退出成功")


async def shop_info(request: web.Request) -> web.Response:
    """GET /shopapi/shop/getShopInfo: the merchant admin's own shop."""
    admin = await current_admin(request, "shop_admin")
    shop = await admins.live_shop(request.app[POOL], admin["shop_id"])
    if shop is None:   # deleted between the token check and now
        raise ApiError("店铺信息不存在")
    return ok(with_times(shop, request.app[SETTINGS].time_zone, ("create_time",)))


def setup_routes(app: web.Application) -> None:
    add_family_routes(app, [
        ("POST", "/account/login", login),
        ("POST", "/account/logout", logout),
    ])
    app.router.add_get("/shopapi/shop/getshopinfo", shop_info)
