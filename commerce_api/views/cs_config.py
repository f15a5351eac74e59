"""Customer-service settings (`config` type 'kefu', per shop, 0 = the platform): the back office
reads and writes its own shop's (/shopapi/kefu/getConfig|setConfig, /adminapi/... for shop 0);
buyers read them without logging in (/api/setting/*), plus the mall's general /api/index/config.

The back office works with the stored relative image path (what setConfig takes back); the
buyer pages get absolute URLs, as the mall's pages bind them straight into <image src>.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web
from marshmallow import validate

from commerce_api.auth import current_admin
from commerce_api.data import admins, config
from commerce_api.views.admin_family import add_family_routes
from commerce_api.views.backoffice_inputs import WholeNumber, text_field, upload_path_field
from shared.inputs import INT4_MAX
from shared.service import POOL, SETTINGS
from shared.urls import file_url
from shared.web import ApiError, Input, ok, parse

CONTACT_NAMES = ("wechat", "phone", "business_time", "image")
MODE_MANUAL, MODE_ONLINE = 1, 2
MODE_ERROR = "客服模式只能是 1（人工客服）或 2（在线客服）"


class SetConfigInput(Input):
    mode = WholeNumber(validate=validate.OneOf((MODE_MANUAL, MODE_ONLINE), error=MODE_ERROR),
                       error_messages={"invalid": MODE_ERROR, "null": MODE_ERROR})
    wechat = text_field("客服微信", 64)
    phone = text_field("客服电话", 32)
    business_time = text_field("服务时间", 100)
    image = upload_path_field("客服二维码")


class ShopIdInput(Input):
    shop_id = WholeNumber(required=True, validate=validate.Range(min=1, max=INT4_MAX, error="店铺信息不存在"),
                          error_messages={"required": "请选择店铺", "invalid": "店铺 id 必须是整数",
                                          "null": "请选择店铺"})


_set_input, _shop_input = SetConfigInput(), ShopIdInput()


async def _kefu_config(request: web.Request, shop_id: int) -> dict[str, Any]:
    """The back office's view: mode as an int (manual when never set), the rest as stored."""
    values = await config.get_config(request.app[POOL], shop_id, config.KEFU, config.KEFU_NAMES)
    values["mode"] = int(values["mode"]) if values["mode"] in ("1", "2") else MODE_MANUAL
    return values


async def get_config(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    return ok(await _kefu_config(request, admin["shop_id"]))


async def set_config(request: web.Request, admin_type: str) -> web.Response:
    """Save the settings that were sent; those left out keep their value."""
    admin = await current_admin(request, admin_type)
    args = await parse(request, _set_input)
    if not args:
        raise ApiError("请提交要保存的客服设置")
    await config.set_config(request.app[POOL], admin["shop_id"], config.KEFU, {k: str(v) for k, v in args.items()})
    return ok(await _kefu_config(request, admin["shop_id"]), msg="设置成功")


async def _contact(request: web.Request, shop_id: int) -> dict[str, str]:
    values = await config.get_config(request.app[POOL], shop_id, config.KEFU, CONTACT_NAMES)
    values["image"] = _url(request, values["image"])
    return values


def _url(request: web.Request, path: str) -> str:
    return file_url(request.app[SETTINGS].public_base_url, path)


async def platform_customer_service(request: web.Request) -> web.Response:
    """GET /api/setting/getPlatformCustomerService → {wechat, phone, business_time, image}."""
    return ok(await _contact(request, 0))


async def shop_customer_service(request: web.Request) -> web.Response:
    """GET /api/setting/getShopCustomerService?shop_id= → {config: {...}, shop: {id, name, logo}}."""
    args = await parse(request, _shop_input)
    shop = await admins.live_shop(request.app[POOL], args["shop_id"])
    if shop is None:
        raise ApiError("店铺信息不存在")
    return ok({"config": await _contact(request, shop["id"]),
               "shop": {"id": shop["id"], "name": shop["name"], "logo": _url(request, shop["logo"])}})


async def mall_config(request: web.Request) -> web.Response:
    """GET /api/index/config: the mall's name and the addresses the buyer pages build URLs from."""
    settings = request.app[SETTINGS]
    website = await config.get_config(request.app[POOL], 0, config.WEBSITE, ("name", "favicon"))
    return ok({"name": website["name"], "company_name": website["name"],
               "web_favicon": _url(request, website["favicon"]),
               "base_domain": settings.public_base_url, "ws_domain": settings.public_ws_url})


def setup_routes(app: web.Application) -> None:
    add_family_routes(app, [
        ("GET", "/kefu/getConfig", get_config),
        ("POST", "/kefu/setConfig", set_config),
    ])
    app.router.add_get("/api/index/config", mall_config)
    app.router.add_get("/api/setting/getplatformcustomerservice", platform_customer_service)
    app.router.add_get("/api/setting/getshopcustomerservice", shop_customer_service)
