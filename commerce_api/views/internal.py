"""The internal API the chat server calls (/internal/*), guarded by the shared `X-Internal-Key`.

The key is checked before anything else, parameters included, so a caller without it learns
nothing: every /internal path, unknown ones too, answers the same code -1 envelope.
Images stay the stored relative paths: the chat server makes absolute the ones its console uses verbatim.
"""
from __future__ import annotations

import functools
import hmac
from typing import Any

from aiohttp import web

from commerce_api.data import goods, orders, users
from commerce_api.schemas_buyer import GoodsCardsInput, InternalOrdersInput, InternalUserInput
from commerce_api.views.present import format_date, order_out
from shared.service import POOL, SETTINGS
from shared.timefmt import format_time
from shared.web import ApiError, Handler, load, ok, page_args, paged, parse, read_params

KEY_HEADER = "X-Internal-Key"
CLIENT_DESC = {1: "微信小程序", 2: "微信公众号", 3: "iOS", 4: "安卓", 5: "PC商城", 6: "H5"}

_user_input = InternalUserInput()
_orders_input = InternalOrdersInput()
_cards_input = GoodsCardsInput()


class InternalKeyInvalid(ApiError):
    code = -1

    def __init__(self) -> None:
        super().__init__("内部接口密钥无效")


def _key_matches(request: web.Request) -> bool:
    expected = request.app[SETTINGS].internal_api_key
    given = request.headers.get(KEY_HEADER, "")
    if not expected or not given:
        return False
    # Header text may hold undecodable bytes (kept as surrogates); compare bytes in constant time.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def internal_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not _key_matches(request):
            raise InternalKeyInvalid()
        return await handler(request)
    return guarded


def mask_mobile(mobile: str | None) -> str:
    """138****1234; numbers too short to mask keep only their last digit visible."""
    if not mobile:
        return ""
    if len(mobile) >= 8:
        return mobile[:3] + "****" + mobile[-4:]
    return "*" * (len(mobile) - 1) + mobile[-1]


@internal_only
async def user_info(request: web.Request) -> web.Response:
    """The kefu console's user-info panel (spec §5.1 用户信息), mobile masked."""
    args = await parse(request, _user_input)
    profile = await users.user_profile(request.app[POOL], args["user_id"])
    if profile is None:
        raise ApiError("用户不存在")
    panel: dict[str, Any] = {key: profile[key] for key in (
        "id", "sn", "nickname", "avatar", "level", "total_order_amount", "client", "level_name")}
    panel["mobile"] = mask_mobile(profile["mobile"])
    panel["birthday"] = format_date(profile["birthday"])
    panel["create_time"] = format_time(profile["create_time"], request.app[SETTINGS].time_zone)
    panel["client_desc"] = CLIENT_DESC.get(profile["client"], "")
    return ok(panel)


@internal_only
async def user_orders(request: web.Request) -> web.Response:
    """A buyer's orders for the kefu console. `shop_id` 0 or absent: every shop (the platform
    kefu); `order_sn`: orders whose number starts with it (an exact number matches itself)."""
    params = await read_params(request)
    args = load(_orders_input, params)
    page_no, page_size = page_args(params)
    rows, count = await orders.user_orders_page(
        request.app[POOL], args["user_id"], shop_id=args["shop_id"] or None, order_sn_prefix=args["order_sn"],
        limit=page_size, offset=(page_no - 1) * page_size)
    settings = request.app[SETTINGS]
    return ok(paged([order_out(o, settings, absolute_urls=False) for o in rows], count, page_no, page_size))


@internal_only
async def goods_cards(request: web.Request) -> web.Response:
    """`ids=1,2,3` (at most 100) → {"<id>": card} for the goods that exist, deleted or not."""
    args = await parse(request, _cards_input)
    return ok(await goods.goods_cards(request.app[POOL], args["ids"]))


@internal_only
async def unknown(request: web.Request) -> web.Response:
    return web.Response(status=404, text="404: Not Found")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/internal/user/info", user_info)
    app.router.add_get("/internal/user/orders", user_orders)
    app.router.add_get("/internal/goods/cards", goods_cards)
    # Last: without the key, unknown paths and wrong methods answer like the known ones.
    app.router.add_route("*", "/internal/{tail:.*}", unknown)
