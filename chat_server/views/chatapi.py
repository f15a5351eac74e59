"""The buyer chat page's HTTP calls served by the chat server (spec §5.2): its history with a shop
and whether that shop's online chat is usable."""
from __future__ import annotations

from aiohttp import web

from chat_server import wire
from chat_server.data import chat_config, conversations, principals
from chat_server.http_auth import current_buyer
from chat_server.views.inputs import ShopInput
from shared.service import POOL, SETTINGS
from shared.web import ApiError, envelope, load, ok, page_args, paged, parse, read_params

NO_SUCH_SHOP = "店铺不存在"
NOBODY_TO_CHAT = "当前客服不在线,有问题请联系人工客服"

_shop_input = ShopInput()


async def _live_shop(request: web.Request, shop_id: int) -> int:
    if not await principals.shop_exists(request.app[POOL], shop_id):
        raise ApiError(NO_SUCH_SHOP)
    return shop_id


async def chat_record(request: web.Request) -> web.Response:
    """GET /api/user/chatRecord: the caller's own conversation with `shop_id` (0 the platform):
    {"config": the shop's kefu mode, "kefu": the owning kefu or [], "record": a history page,
    newest page first, each page oldest→newest, notices included}."""
    buyer = await current_buyer(request)
    params = await read_params(request)
    shop_id = await _live_shop(request, load(_shop_input, params)["shop_id"])
    page_no, page_size = page_args(params)
    pool, tz = request.app[POOL], request.app[SETTINGS].time_zone
    relation = await conversations.relation(pool, shop_id, buyer["id"])
    owner = None
    if relation is not None and relation["kefu_id"]:
        owner = await principals.kefu_card(pool, shop_id, relation["kefu_id"])
    rows, count = await conversations.history_page(pool, shop_id, buyer["id"], page_no, page_size)
    return ok({
        "config": await chat_config.kefu_mode(pool, shop_id),
        "kefu": {"id": owner["id"], "nickname": owner["nickname"], "avatar": owner["avatar"]} if owner else [],
        "record": paged([wire.record(r, tz) for r in rows], count, page_no, page_size),
    })


async def chat_switch(request: web.Request) -> web.Response:
    """GET /api/index/chatConfig (no login): code 1 when the shop's online chat is usable: online
    mode and at least one usable kefu (messages to a kefu who is offline are kept for later, so
    nobody being online still counts); code 0 with an empty msg in manual mode; code 0 with a
    message when the shop has online mode but no usable kefu at all."""
    args = await parse(request, _shop_input)
    pool = request.app[POOL]
    shop_id = await _live_shop(request, args["shop_id"])
    if await chat_config.kefu_mode(pool, shop_id) == chat_config.MODE_MANUAL:
        return envelope(0, "", [], 0)    # the buyer page shows the manual contact data, no toast
    if not await principals.usable_kefu_of_shop(pool, shop_id):
        raise ApiError(NOBODY_TO_CHAT)
    return ok()

