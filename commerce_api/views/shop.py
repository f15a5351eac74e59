"""Shops for buyers: /api/shop/getShopInfo."""
from __future__ import annotations

from aiohttp import web

from commerce_api.data import goods, shops
from commerce_api.schemas_buyer import ShopInfoInput
from shared.service import POOL, SETTINGS
from shared.urls import file_url
from shared.web import ApiError, ok, parse

_info_input = ShopInfoInput()


async def info(request: web.Request) -> web.Response:
    args = await parse(request, _info_input)
    pool = request.app[POOL]
    shop = await shops.buyer_shop(pool, args["shop_id"])
    if shop is None:
        raise ApiError("店铺信息不存在")
    settings = request.app[SETTINGS]
    shop["logo"] = file_url(settings.public_base_url, shop["logo"])
    shop["background"] = file_url(settings.public_base_url, shop["background"])
    shop["goods_count"] = await goods.on_sale_count(pool, shop["id"])
    return ok(shop)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/shop/getshopinfo", info)
