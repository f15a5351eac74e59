"""Goods for buyers: /api/goods/getGoodsDetail, /api/goods/getGoodsList."""
from __future__ import annotations

from aiohttp import web

from commerce_api.data import goods
from commerce_api.schemas_buyer import GoodsDetailInput, GoodsListInput
from shared.service import POOL, SETTINGS
from shared.urls import file_url
from shared.web import ApiError, load, ok, page_args, paged, parse, read_params

_detail_input = GoodsDetailInput()
_list_input = GoodsListInput()


async def detail(request: web.Request) -> web.Response:
    args = await parse(request, _detail_input)
    try:
        item = await goods.buyer_goods_detail(request.app[POOL], args["goods_id"])
    except goods.GoodsMissing:
        raise ApiError("商品不存在") from None
    except goods.GoodsOffSale:
        raise ApiError("商品已下架") from None
    settings = request.app[SETTINGS]
    item["image"] = file_url(settings.public_base_url, item["image"])
    item["shop"]["logo"] = file_url(settings.public_base_url, item["shop"]["logo"])
    return ok(item)


async def listing(request: web.Request) -> web.Response:
    params = await read_params(request)
    args = load(_list_input, params)
    page_no, page_size = page_args(params)
    rows, count = await goods.buyer_goods_page(request.app[POOL], args["shop_id"] or None,
                                               page_size, (page_no - 1) * page_size)
    settings = request.app[SETTINGS]
    for row in rows:
        row["image"] = file_url(settings.public_base_url, row["image"])
    return ok(paged(rows, count, page_no, page_size))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/goods/getgoodsdetail", detail)
    app.router.add_get("/api/goods/getgoodslist", listing)
