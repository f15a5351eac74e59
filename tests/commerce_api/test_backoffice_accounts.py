"""Back-office accounts: merchant (/shopapi) and platform (/adminapi) login, logout, token
resolution and the merchant's shop, against the demo data."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from shared.passwords import legacy_md5
from shared.tokens import new_token
from tests.commerce_api.helpers import ADMIN_PASSWORD, SHOP_PASSWORD, TIME_RE, call, login


async def shop_login(commerce, account="shop1", password=SHOP_PASSWORD, **extra):
    """A merchant token, logging in on the pc client unless `extra` names another."""
    return await login(commerce, "/shopapi", account, password, **{"client": 5, **extra})


# ------------------------------------------------------------------------------------------ login

async def test_shop_admin_login_json(commerce, db, settings):
    body = await call(commerce, "POST", "/shopapi/account/login",
                      json={"account": "shop1", "password": SHOP_PASSWORD, "client": 5})
    assert body["code"] == 1 and body["msg"] == "登录成功"
    data = body["data"]
    assert {k: data[k] for k in ("id", "name", "account", "shop_id", "shop_name")} == {
        "id": 1, "name": "Demo店长", "account": "shop1", "shop_id": 1, "shop_name": "Demo Shop"}
    assert data["avatar"] == ""
    assert re.fullmatch(r"[0-9a-f]{32}", data["token"])
    row = await db.fetchrow("SELECT * FROM admin_session WHERE token = $1", data["token"])
    assert (row["admin_type"], row["admin_id"], row["shop_id"], row["client"]) == ("shop_admin", 1, 1, 5)
    ttl = (row["expire_time"] - datetime.now(timezone.utc)).total_seconds()
    assert settings.admin_token_ttl - 60 < ttl <= settings.admin_token_ttl
    assert await db.fetchval("SELECT login_time IS NOT NULL FROM shop_admin WHERE id = 1")


async def test_shop_admin_login_form_encoded(commerce):
    body = await call(commerce, "POST", "/shopapi/account/login",
                      data={"account": "shop2", "password": SHOP_PASSWORD, "client": "4"})
    assert body["code"] == 1, body
    assert body["data"]["shop_id"] == 2 and body["data"]["shop_name"] == "Second Shop"


async def test_platform_admin_login(commerce, db):
    body = await call(commerce, "POST", "/adminapi/account/login",
                      data={"account": "admin", "password": ADMIN_PASSWORD, "client": "5"})
    assert body["code"] == 1, body
    data = body["data"]
    assert (data["id"], data["account"], data["name"], data["shop_id"], data["shop_name"]) == (
        1, "admin", "平台管理员", 0, "演示商城")
    assert data["avatar"] == "uploads/demo/platform_kefu.png"
    assert await db.fetchval("SELECT admin_type FROM admin_session WHERE token = $1", data["token"]) == "admin"


@pytest.mark.parametrize("prefix, account", [("/shopapi", "shop1"), ("/adminapi", "admin")])
async def test_unknown_account_and_wrong_password_answer_alike(commerce, prefix, account):
    wrong = await call(commerce, "POST", f"{prefix}/account/login", json={"account": account, "password": "nope-nope"})
    unknown = await call(commerce, "POST", f"{prefix}/account/login", json={"account": "ghost", "password": "x"})
    assert (wrong["code"], wrong["msg"]) == (0, "账号或密码错误")
    assert (unknown["code"], unknown["msg"]) == (0, "账号或密码错误")


async def test_accounts_do_not_cross_families(commerce):
    # a merchant account is not a platform account and vice versa
    body = await call(commerce, "POST", "/adminapi/account/login", json={"account": "shop1", "password": SHOP_PASSWORD})
    assert (body["code"], body["msg"]) == (0, "账号或密码错误")
    body = await call(commerce, "POST", "/shopapi/account/login", json={"account": "admin", "password": ADMIN_PASSWORD})
    assert (body["code"], body["msg"]) == (0, "账号或密码错误")


async def test_disabled_account(commerce, db):
    await db.execute("UPDATE shop_admin SET disable = 1 WHERE id = 2")
    body = await call(commerce, "POST", "/shopapi/account/login", json={"account": "shop1b", "password": SHOP_PASSWORD})
    assert (body["code"], body["msg"]) == (0, "账号已禁用")
    # the wrong password still gets the generic answer: "disabled" is only told to the owner
    body = await call(commerce, "POST", "/shopapi/account/login", json={"account": "shop1b", "password": "wrong-pw"})
    assert body["msg"] == "账号或密码错误"
    await db.execute("UPDATE admin SET disable = 1 WHERE id = 1")
    body = await call(commerce, "POST", "/adminapi/account/login", json={"account": "admin", "password": ADMIN_PASSWORD})
    assert (body["code"], body["msg"]) == (0, "账号已禁用")


async def test_deleted_account_or_shop_cannot_log_in(commerce, db):
    await db.execute("UPDATE shop_admin SET del = 1 WHERE id = 2")
    body = await call(commerce, "POST", "/shopapi/account/login", json={"account": "shop1b", "password": SHOP_PASSWORD})
    assert (body["code"], body["msg"]) == (0, "账号或密码错误")
    await db.execute("UPDATE shop SET del = 1 WHERE id = 2")
    body = await call(commerce, "POST", "/shopapi/account/login", json={"account": "shop2", "password": SHOP_PASSWORD})
    assert (body["code"], body["msg"]) == (0, "账号或密码错误")


@pytest.mark.parametrize("payload, message", [
    ({"password": SHOP_PASSWORD}, "请输入账号"),
    ({"account": "   ", "password": SHOP_PASSWORD}, "请输入账号"),
    ({"account": "shop1"}, "请输入密码"),
    ({"account": "shop1", "password": ""}, "请输入密码"),
    ({"account": 123, "password": SHOP_PASSWORD}, "账号必须是字符串"),
    ({"account": "a" * 65, "password": SHOP_PASSWORD}, "账号不能超过 64 个字符"),
    ({"account": "shop1", "password": "p" * 129}, "密码不能超过 128 个字符"),
    ({"account": "shop1", "password": SHOP_PASSWORD, "client": 9}, "无效的客户端"),
    ({"account": "shop1", "password": SHOP_PASSWORD, "client": "pc"}, "无效的客户端"),
    ({"account": None, "password": SHOP_PASSWORD}, "请输入账号"),
    ({"account": "shop1\u0000", "password": SHOP_PASSWORD}, "账号含有无效字符"),
])
async def test_login_bad_input(commerce, payload, message):
    body = await call(commerce, "POST", "/shopapi/account/login", json=payload)
    assert (body["code"], body["msg"]) == (0, message)


async def test_login_bad_json_body(commerce):
    resp = await commerce.post("/shopapi/account/login", data=b"{not json", headers={"Content-Type": "application/json"})
    body = await resp.json()
    assert body["code"] == 0 and body["msg"] == "请求体不是有效的 JSON"


async def test_legacy_md5_password_is_rehashed(commerce, db):
    await db.execute("UPDATE shop_admin SET password = $1, salt = 'abcd' WHERE id = 3", legacy_md5("old-secret", "abcd"))
    await shop_login(commerce, "shop2", "old-secret")
    stored, salt = await db.fetchrow("SELECT password, salt FROM shop_admin WHERE id = 3")
    assert stored.startswith("$argon2") and salt == ""
    await shop_login(commerce, "shop2", "old-secret")   # the new hash verifies the same password


async def test_new_login_replaces_the_token_of_that_client_only(commerce, db):
    first = await shop_login(commerce)
    other_client = await shop_login(commerce, client=3)
    second = await shop_login(commerce)
    assert len({first, other_client, second}) == 3
    assert await db.fetchval("SELECT count(*) FROM admin_session WHERE admin_type = 'shop_admin' AND admin_id = 1") == 2
    assert (await call(commerce, "GET", "/shopapi/shop/getShopInfo", first))["code"] == -1
    assert (await call(commerce, "GET", "/shopapi/shop/getShopInfo", second))["code"] == 1
    assert (await call(commerce, "GET", "/shopapi/shop/getShopInfo", other_client))["code"] == 1


# ----------------------------------------------------------------------------------------- logout

@pytest.mark.parametrize("prefix, account, password", [("/shopapi", "shop1", SHOP_PASSWORD),
                                                       ("/adminapi", "admin", ADMIN_PASSWORD)])
async def test_logout_expires_the_token(commerce, prefix, account, password):
    login = await call(commerce, "POST", f"{prefix}/account/login", json={"account": account, "password": password})
    token = login["data"]["token"]
    assert (await call(commerce, "GET", f"{prefix}/kefu/getConfig", token))["code"] == 1
    body = await call(commerce, "POST", f"{prefix}/account/logout", token)
    assert (body["code"], body["msg"]) == (1, "退出成功")
    assert (await call(commerce, "GET", f"{prefix}/kefu/getConfig", token))["code"] == -1
    assert (await call(commerce, "POST", f"{prefix}/account/logout", token))["code"] == -1


async def test_logout_without_token(commerce):
    assert (await call(commerce, "POST", "/shopapi/account/logout"))["code"] == -1
    assert (await call(commerce, "POST", "/adminapi/account/logout", "not-a-token"))["code"] == -1


# ------------------------------------------------------------------------------- token resolution

async def test_tokens_of_other_kinds_are_refused(commerce, db):
    buyer_token = new_token()
    await db.execute("INSERT INTO session (user_id, token, client, expire_time) VALUES (1, $1, 6, now() + interval '1 day')",
                     buyer_token)
    platform = (await call(commerce, "POST", "/adminapi/account/login",
                           json={"account": "admin", "password": ADMIN_PASSWORD}))["data"]["token"]
    merchant = await shop_login(commerce)
    assert (await call(commerce, "GET", "/shopapi/shop/getShopInfo", buyer_token))["code"] == -1
    assert (await call(commerce, "GET", "/adminapi/kefu/lists", buyer_token))["code"] == -1
    assert (await call(commerce, "GET", "/shopapi/kefu/lists", platform))["code"] == -1
    assert (await call(commerce, "GET", "/adminapi/kefu/lists", merchant))["code"] == -1
    assert (await call(commerce, "GET", "/shopapi/kefu/lists", new_token()))["code"] == -1


async def test_expired_token_and_disabled_admin(commerce, db):
    token = await shop_login(commerce)
    await db.execute("UPDATE admin_session SET expire_time = now() - interval '1 second' WHERE token = $1", token)
    assert (await call(commerce, "GET", "/shopapi/shop/getShopInfo", token))["code"] == -1
    token = await shop_login(commerce)
    await db.execute("UPDATE shop_admin SET disable = 1 WHERE id = 1")
    assert (await call(commerce, "GET", "/shopapi/shop/getShopInfo", token))["code"] == -1


# -------------------------------------------------------------------------------------- shop info

async def test_get_shop_info(commerce):
    token = await shop_login(commerce)
    body = await call(commerce, "GET", "/shopapi/shop/getShopInfo", token)
    assert body["code"] == 1, body
    shop = body["data"]
    assert set(shop) == {"id", "name", "logo", "background", "type", "intro", "nickname", "mobile", "is_run",
                         "create_time"}
    assert (shop["id"], shop["name"], shop["logo"], shop["is_run"]) == (1, "Demo Shop", "uploads/demo/shop_1.png", 1)
    assert TIME_RE.match(shop["create_time"])
    # lower-case path too: action names match case-insensitively
    assert (await call(commerce, "GET", "/shopapi/shop/getshopinfo", token))["data"]["id"] == 1


async def test_shop_info_follows_the_token_not_a_parameter(commerce):
    token = await shop_login(commerce, "shop2")
    body = await call(commerce, "GET", "/shopapi/shop/getShopInfo?shop_id=1&id=1", token)
    assert body["data"]["id"] == 2


async def test_shop_info_in_the_mall_time_zone(commerce, db):
    await db.execute("UPDATE shop SET create_time = '2024-01-01 00:00:00+00' WHERE id = 1")
    token = await shop_login(commerce)
    body = await call(commerce, "GET", "/shopapi/shop/getShopInfo", token)
    assert body["data"]["create_time"] == "2024-01-01 08:00:00"   # Asia/Shanghai
