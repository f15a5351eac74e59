"""Customer-service settings: the back office's get/set (per shop, platform = shop 0) and the
buyer-facing reads (/api/setting/*, /api/index/config), which need no login."""
from __future__ import annotations

import pytest

from tests.commerce_api.helpers import call, login

SHOP1 = {"mode": 2, "wechat": "demo_shop_kefu", "phone": "020-00000001", "business_time": "09:00-21:00",
         "image": "uploads/demo/qrcode.png"}


async def stored(db, shop_id):
    rows = await db.fetch("SELECT name, value FROM config WHERE shop_id = $1 AND type = 'kefu'", shop_id)
    return {r["name"]: r["value"] for r in rows}


# ---------------------------------------------------------------------------------- back office

async def test_get_config(commerce):
    token = await login(commerce)
    body = await call(commerce, "GET", "/shopapi/kefu/getConfig", token)
    assert body["code"] == 1 and body["data"] == SHOP1
    platform = await login(commerce, "/adminapi", "admin")
    data = (await call(commerce, "GET", "/adminapi/kefu/getconfig", platform))["data"]
    assert (data["mode"], data["wechat"]) == (2, "likeshop_platform")


async def test_get_config_of_a_shop_never_configured(commerce, db):
    await db.execute("DELETE FROM config WHERE shop_id = 2")
    token = await login(commerce, account="shop2")
    data = (await call(commerce, "GET", "/shopapi/kefu/getConfig", token))["data"]
    assert data == {"mode": 1, "wechat": "", "phone": "", "business_time": "", "image": ""}


async def test_set_config_json_partial(commerce, db):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/setConfig", token,
                      json={"mode": 1, "wechat": " new_wechat ", "image": "uploads/shop/1/20240101/qr.png"})
    assert (body["code"], body["msg"]) == (1, "设置成功"), body
    expected = {**SHOP1, "mode": 1, "wechat": "new_wechat", "image": "uploads/shop/1/20240101/qr.png"}
    assert body["data"] == expected
    assert await stored(db, 1) == {k: str(v) for k, v in expected.items()}
    # other shops and the platform are untouched
    assert (await stored(db, 2))["wechat"] == "second_shop_kefu"
    assert (await stored(db, 0))["mode"] == "2"


async def test_set_config_form_and_clearing(commerce, db):
    await db.execute("DELETE FROM config WHERE shop_id = 2")
    token = await login(commerce, account="shop2")
    body = await call(commerce, "POST", "/shopapi/kefu/setConfig", token,
                      data={"mode": "2", "phone": "400-800-8888", "business_time": "全天"})
    assert body["code"] == 1, body
    assert await stored(db, 2) == {"mode": "2", "phone": "400-800-8888", "business_time": "全天"}
    body = await call(commerce, "POST", "/shopapi/kefu/setConfig", token, data={"phone": "", "image": ""})
    assert body["code"] == 1 and body["data"]["phone"] == "" and body["data"]["image"] == ""


async def test_set_config_platform_is_shop_zero(commerce, db):
    token = await login(commerce, "/adminapi", "admin")
    body = await call(commerce, "POST", "/adminapi/kefu/setConfig", token, json={"mode": 1, "phone": "400-1"})
    assert body["code"] == 1
    assert ((await stored(db, 0))["mode"], (await stored(db, 0))["phone"]) == ("1", "400-1")
    assert (await stored(db, 1))["mode"] == "2"


async def test_set_config_ignores_a_forged_shop_id(commerce, db):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/setConfig", token, json={"shop_id": 2, "wechat": "hijack"})
    assert body["code"] == 1
    assert (await stored(db, 2))["wechat"] == "second_shop_kefu"
    assert (await stored(db, 1))["wechat"] == "hijack"


@pytest.mark.parametrize("payload, message", [
    ({}, "请提交要保存的客服设置"),
    ({"mode": 3}, "客服模式只能是 1（人工客服）或 2（在线客服）"),
    ({"mode": "online"}, "客服模式只能是 1（人工客服）或 2（在线客服）"),
    ({"mode": None}, "客服模式只能是 1（人工客服）或 2（在线客服）"),
    ({"wechat": "w" * 65}, "客服微信不能超过 64 个字符"),
    ({"phone": "1" * 33}, "客服电话不能超过 32 个字符"),
    ({"business_time": "t" * 101}, "服务时间不能超过 100 个字符"),
    ({"phone": 13800000000}, "客服电话必须是字符串"),
    ({"image": "https://evil.example/qr.png"}, "客服二维码必须是上传文件的相对路径"),
    ({"image": "//evil.example/qr.png"}, "客服二维码必须是上传文件的相对路径"),
    ({"image": "uploads/../../secret"}, "客服二维码必须是上传文件的相对路径"),
    ({"image": "/var/www/qr.png"}, "客服二维码必须是上传文件的相对路径"),
    ({"image": "uploads\\qr.png"}, "客服二维码必须是上传文件的相对路径"),
])
async def test_set_config_bad_input(commerce, db, payload, message):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/setConfig", token, json=payload)
    assert (body["code"], body["msg"]) == (0, message)
    assert await stored(db, 1) == {k: str(v) for k, v in SHOP1.items()}


async def test_config_requires_back_office_login(commerce, db):
    assert (await call(commerce, "GET", "/shopapi/kefu/getConfig"))["code"] == -1
    assert (await call(commerce, "POST", "/adminapi/kefu/setConfig", json={"mode": 1}))["code"] == -1
    assert (await stored(db, 0))["mode"] == "2"


# ---------------------------------------------------------------------------------- buyer reads

async def test_platform_customer_service(commerce, settings):
    body = await call(commerce, "GET", "/api/setting/getPlatformCustomerService")
    assert body["code"] == 1
    assert body["data"] == {"wechat": "likeshop_platform", "phone": "400-000-0000", "business_time": "09:00-21:00",
                            "image": settings.public_base_url + "uploads/demo/qrcode.png"}


async def test_platform_customer_service_unset(commerce, db):
    await db.execute("DELETE FROM config WHERE shop_id = 0 AND type = 'kefu'")
    body = await call(commerce, "GET", "/api/setting/getplatformcustomerservice")
    assert body["data"] == {"wechat": "", "phone": "", "business_time": "", "image": ""}


async def test_shop_customer_service(commerce, settings):
    body = await call(commerce, "GET", "/api/setting/getShopCustomerService?shop_id=2")
    assert body["code"] == 1, body
    assert body["data"] == {
        "config": {"wechat": "second_shop_kefu", "phone": "020-00000002", "business_time": "09:00-21:00",
                   "image": settings.public_base_url + "uploads/demo/qrcode.png"},
        "shop": {"id": 2, "name": "Second Shop", "logo": settings.public_base_url + "uploads/demo/shop_2.png"}}


async def test_shop_customer_service_reflects_the_back_office(commerce):
    token = await login(commerce)
    await call(commerce, "POST", "/shopapi/kefu/setConfig", token, json={"wechat": "changed", "image": ""})
    data = (await call(commerce, "GET", "/api/setting/getShopCustomerService?shop_id=1"))["data"]
    assert (data["config"]["wechat"], data["config"]["image"]) == ("changed", "")


@pytest.mark.parametrize("query, message", [
    ("shop_id=999", "店铺信息不存在"),
    ("shop_id=0", "店铺信息不存在"),
    ("shop_id=-3", "店铺信息不存在"),
    ("shop_id=99999999999", "店铺信息不存在"),
    ("shop_id=abc", "店铺 id 必须是整数"),
    ("", "请选择店铺"),
])
async def test_shop_customer_service_refuses(commerce, query, message):
    body = await call(commerce, "GET", f"/api/setting/getShopCustomerService?{query}")
    assert (body["code"], body["msg"]) == (0, message)


async def test_shop_customer_service_of_a_deleted_shop(commerce, db):
    await db.execute("UPDATE shop SET del = 1 WHERE id = 2")
    body = await call(commerce, "GET", "/api/setting/getShopCustomerService?shop_id=2")
    assert (body["code"], body["msg"]) == (0, "店铺信息不存在")


async def test_mall_config(commerce, settings):
    body = await call(commerce, "GET", "/api/index/config")
    assert body["code"] == 1
    data = body["data"]
    assert data["name"] == "演示商城" and data["company_name"] == "演示商城"
    assert data["base_domain"] == settings.public_base_url and data["ws_domain"] == settings.public_ws_url
    assert data["web_favicon"] == settings.public_base_url + "uploads/demo/favicon.png"


async def test_mall_config_unset(commerce, db):
    await db.execute("DELETE FROM config WHERE type = 'website'")
    data = (await call(commerce, "GET", "/api/index/config"))["data"]
    assert (data["name"], data["web_favicon"]) == ("", "")
