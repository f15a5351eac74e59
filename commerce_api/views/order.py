"""The buyer's orders: /api/order/lists, /api/order/getOrderDetail."""
from __future__ import annotations

from aiohttp import web

from commerce_api.auth import current_user
from commerce_api.data import orders
from commerce_api.schemas_buyer import ORDER_LIST_TYPES, OrderDetailInput, OrderListInput
from commerce_api.views.present import order_out
from shared.service import POOL, SETTINGS
from shared.web import ApiError, load, ok, page_args, paged, parse, read_params

_list_input = OrderListInput()
_detail_input = OrderDetailInput()


async def listing(request: web.Request) -> web.Response:
    """`type`: all (default), pay, delivery, take, finish, close — likeshop's tabs."""
    user = await current_user(request)
    params = await read_params(request)
    args = load(_list_input, params)
    page_no, page_size = page_args(params)
    rows, count = await orders.user_orders_page(
        request.app[POOL], user["id"], status=ORDER_LIST_TYPES[args["type"] or "all"],
        limit=page_size, offset=(page_no - 1) * page_size)
    settings = request.app[SETTINGS]
    return ok(paged([order_out(o, settings, absolute_urls=True) for o in rows], count, page_no, page_size))


async def detail(request: web.Request) -> web.Response:
    user = await current_user(request)
    args = await parse(request, _detail_input)
    order = await orders.user_order_detail(request.app[POOL], user["id"], args["id"])
    if order is None:
        raise ApiError("订单不存在")
    return ok(order_out(order, request.app[SETTINGS], absolute_urls=True))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/order/lists", listing)
    app.router.add_get("/api/order/getorderdetail", detail)
