"""The kefu console's HTTP API (spec §5.1, /kefuapi/*).

Everything but login and config needs the kefu's `token` header, and everything is scoped to the
kefu's own shop: a user id is only answered for buyers who have a conversation with that shop, so
a forged id never reaches another shop's buyers, their profiles or their orders.

Media the console puts straight into an <img> (avatars of kefuInfo, online and userInfo, the
favicon, order images and shop logos) are answered absolute, as the original's were; record
`from_avatar`, image `msg`, `goods.image` and the user list's `avatar` stay relative, as the
console prefixes `base_domain` to those itself (spec §3.1).
"""
from __future__ import annotations

from aiohttp import web

from chat_server import wire
from chat_server.commerce import CommerceError, CommerceUnavailable
from chat_server.data import chat_config, conversations, principals
from chat_server.http_auth import current_kefu
from chat_server.keys import COMMERCE, PRESENCE
from chat_server.views.inputs import (PLATFORM, KefuLoginInput, OrderInput, ReplyInput, UserInput,
                                      UserListInput)
from shared.passwords import check_account_password
from shared.service import POOL, SETTINGS
from shared.timefmt import format_time
from shared.tokens import new_token
from shared.urls import file_url
from shared.uploads import accept_image_upload
from shared.web import ApiError, load, ok, page_args, paged, parse, read_params, request_token

WRONG_CREDENTIALS = "账号或密码错误"
NO_SUCH_USER = "用户不存在"
USER_INFO_UNAVAILABLE = "用户信息获取失败，请稍后再试"
ORDERS_UNAVAILABLE = "订单信息获取失败，请稍后再试"

_login_input, _user_list_input, _user_input = KefuLoginInput(), UserListInput(), UserInput()
_order_input, _reply_input = OrderInput(), ReplyInput()


# --------------------------------------------------------------------------------------- account

async def login(request: web.Request) -> web.Response:
    """POST /kefuapi/account/login: a back-office account (platform `admin` for type 0, merchant
    `shop_admin` for type 1) logs in as the kefu bound to it."""
    args = await parse(request, _login_input)
    pool, settings = request.app[POOL], request.app[SETTINGS]
    admin_type = "admin" if args["type"] == PLATFORM else "shop_admin"
    admin = await principals.admin_for_kefu_login(pool, admin_type, args["account"])
    valid, new_hash = await check_account_password(admin, args["password"])
    if not valid:
        raise ApiError(WRONG_CREDENTIALS)
    if new_hash is not None:
        await principals.store_admin_password(pool, admin_type, admin["id"], new_hash)
    if admin["disable"]:
        raise ApiError("账号已禁用")
    kefu = await principals.kefu_of_admin(pool, admin["shop_id"], admin["id"])
    if kefu is None:
        raise ApiError("该账号未绑定客服")
    if kefu["disable"]:
        raise ApiError("客服已被禁用")
    token = new_token()
    await principals.open_kefu_session(pool, kefu["id"], kefu["shop_id"], token, args["client"],
                                       settings.kefu_token_ttl)
    return ok({"id": kefu["id"], "nickname": kefu["nickname"], "avatar": kefu["avatar"],
               "shop_id": kefu["shop_id"], "account": args["account"], "token": token}, msg="登录成功")


async def logout(request: web.Request) -> web.Response:
    """POST /kefuapi/account/logout: the token stops working, and the kefu's open sockets are closed
    on every node (close_kefu_session NOTIFYs `kefu_revoked`)."""
    await current_kefu(request)
    await principals.close_kefu_session(request.app[POOL], request_token(request))
    return ok(msg="退出成功")


# ------------------------------------------------------------------------------------------ chat

def _url(request: web.Request, path: str) -> str:
    return file_url(request.app[SETTINGS].public_base_url, path)


def _absolute_order_media(request: web.Request, page: dict) -> dict:
    """The internal API's order page (relative paths) with its shop logos and goods images absolute."""
    for order in page["list"]:
        order["shop"]["logo"] = _url(request, order["shop"]["logo"])
        for line in order["order_goods"]:
            line["image"] = _url(request, line["image"])
    return page


async def _conversation_user(request: web.Request, shop_id: int, args: dict) -> int:
    """The `user_id` asked about, provided that buyer has a conversation with the kefu's shop."""
    user_id = args["user_id"]
    if not await conversations.conversation_exists(request.app[POOL], shop_id, user_id):
        raise ApiError(NO_SUCH_USER)
    return user_id


async def user_list(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/user: the conversations this kefu owns, online buyers first, then the
    latest activity first."""
    kefu = await current_kefu(request)
    params = await read_params(request)
    args = load(_user_list_input, params)
    page_no, page_size = page_args(params)
    pool, tz = request.app[POOL], request.app[SETTINGS].time_zone
    owned = await conversations.owned_user_ids(pool, kefu["shop_id"], kefu["id"])
    online = await request.app[PRESENCE].users_online(kefu["shop_id"], owned) if owned else set()
    rows, count = await conversations.kefu_conversations(pool, kefu["id"], sorted(online), args["nickname"] or None,
                                                         page_no, page_size)
    return ok(paged([wire.relation(r, tz, r["user_id"] in online) for r in rows], count, page_no, page_size))


async def record(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/record: a conversation's history, newest page first, each page oldest→newest."""
    kefu = await current_kefu(request)
    params = await read_params(request)
    user_id = await _conversation_user(request, kefu["shop_id"], load(_user_input, params))
    page_no, page_size = page_args(params)
    tz = request.app[SETTINGS].time_zone
    rows, count = await conversations.history_page(request.app[POOL], kefu["shop_id"], user_id, page_no, page_size)
    return ok(paged([wire.record(r, tz) for r in rows], count, page_no, page_size))


async def online_kefu(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/online: the other usable kefu of my shop who are online (transfer targets)."""
    kefu = await current_kefu(request)
    online = await request.app[PRESENCE].online_kefu(kefu["shop_id"])
    usable = await principals.usable_kefu_of_shop(request.app[POOL], kefu["shop_id"])
    return ok([{"id": k["id"], "nickname": k["nickname"], "avatar": _url(request, k["avatar"])}
               for k in usable if k["id"] in online and k["id"] != kefu["id"]])


async def reply(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/reply: my shop's quick replies by sort; `keyword` searches title and content."""
    kefu = await current_kefu(request)
    params = await read_params(request)
    args = load(_reply_input, params)
    page_no, page_size = page_args(params)
    tz = request.app[SETTINGS].time_zone
    rows, count = await chat_config.quick_replies(request.app[POOL], kefu["shop_id"], args["keyword"],
                                                  page_no, page_size)
    for row in rows:
        row["create_time"] = format_time(row["create_time"], tz)
        row["update_time"] = format_time(row["update_time"], tz)
    return ok(paged(rows, count, page_no, page_size))


async def user_info(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/userInfo: the buyer's panel from the commerce API. When that API is down
    or slow the answer is a quick code 0; chat itself does not depend on it."""
    kefu = await current_kefu(request)
    user_id = await _conversation_user(request, kefu["shop_id"], await parse(request, _user_input))
    try:
        panel = await request.app[COMMERCE].user_info(user_id)
    except CommerceUnavailable:
        raise ApiError(USER_INFO_UNAVAILABLE) from None
    except CommerceError as exc:
        raise ApiError(str(exc)) from None
    panel["avatar"] = _url(request, panel["avatar"])
    return ok(panel)


async def orders(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/order: the buyer's orders in my shop (every shop for the platform kefu)."""
    kefu = await current_kefu(request)
    params = await read_params(request)
    args = load(_order_input, params)
    user_id = await _conversation_user(request, kefu["shop_id"], args)
    page_no, page_size = page_args(params)
    try:
        page = await request.app[COMMERCE].user_orders(user_id, kefu["shop_id"] or None, args["order_sn"] or None,
                                                       page_no, page_size)
    except CommerceUnavailable:
        raise ApiError(ORDERS_UNAVAILABLE) from None
    except CommerceError as exc:
        raise ApiError(str(exc)) from None
    return ok(_absolute_order_media(request, page))


async def kefu_info(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/kefuInfo: who I am, and whether any of my sockets is connected."""
    kefu = await current_kefu(request)
    online = await request.app[PRESENCE].is_kefu_online(kefu["id"])
    return ok({"id": kefu["id"], "shop_id": kefu["shop_id"], "nickname": kefu["nickname"],
               "avatar": _url(request, kefu["avatar"]), "online": 1 if online else 0})


async def config(request: web.Request) -> web.Response:
    """GET /kefuapi/chat/config (no login): where the console finds files and the WebSocket."""
    settings = request.app[SETTINGS]
    site = await chat_config.website(request.app[POOL])
    return ok({"base_domain": settings.public_base_url, "web_favicon": _url(request, site["favicon"]),
               "company_name": site["name"], "ws_domain": settings.public_ws_url})


# ------------------------------------------------------------------------------------------ file

async def form_image(request: web.Request) -> web.Response:
    """POST /kefuapi/file/formImage: an image the kefu may then send (stored under uploads/kefu/<id>/)."""
    kefu = await current_kefu(request)
    payload = await accept_image_upload(request, request.app[POOL], request.app[SETTINGS],
                                        uploader_type="kefu", uploader_id=kefu["id"], shop_id=kefu["shop_id"])
    return ok(payload, msg="上传成功")

