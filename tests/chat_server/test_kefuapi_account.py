"""Kefu console login and logout (spec §5.1), and who the `token` header lets in on /kefuapi/*."""
import asyncio
import re

import aiohttp
import pytest

from shared.demo_data import _png
from shared.passwords import legacy_md5
from tests.chat_server.http_helpers import call

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
PNG = _png((200, 100, 50))


async def login(live, **body) -> dict:
    return await call(live, "POST", "/kefuapi/account/login", json=body)


# ------------------------------------------------------------------------------------------ login

async def test_platform_login_json_opens_a_kefu_session(live):
    body = await login(live, account="admin", password="admin123456", type=0, client=5)
    assert body["code"] == 1 and body["msg"] == "登录成功"
    data = body["data"]
    assert set(data) == {"id", "nickname", "avatar", "shop_id", "account", "token"}
    assert data["id"] == 1 and data["shop_id"] == 0 and data["nickname"] == "平台客服"
    assert data["account"] == "admin" and data["avatar"] == "uploads/demo/platform_kefu.png"
    assert TOKEN_RE.match(data["token"])
    row = await live.db.fetchrow("SELECT kefu_id, shop_id, client, expire_time - now() AS left FROM kefu_session"
                                 " WHERE token = $1", data["token"])
    assert (row["kefu_id"], row["shop_id"], row["client"]) == (1, 0, 5)
    assert abs(row["left"].total_seconds() - live.settings.kefu_token_ttl) < 60

    info = await call(live, "GET", "/kefuapi/chat/kefuInfo", data["token"])
    assert info["code"] == 1 and info["data"]["id"] == 1


async def test_merchant_login_form_encoded_and_the_token_opens_the_websocket(live):
    body = await call(live, "POST", "/kefuapi/account/login",
                      data={"account": "shop1", "password": "shop123456", "type": "1", "client": "5"})
    assert body["code"] == 1, body
    data = body["data"]
    assert (data["id"], data["shop_id"], data["nickname"], data["account"]) == (2, 1, "Demo客服A", "shop1")
    sock = await live.connect(f"token={data['token']}&type=kefu&client=5&shop_id=1")
    assert await call(live, "GET", "/kefuapi/chat/kefuInfo", data["token"]) == {
        "code": 1, "show": 0, "msg": "",
        "data": {"id": 2, "shop_id": 1, "nickname": "Demo客服A",
                 "avatar": live.settings.public_base_url + "uploads/demo/kefu_2.png", "online": 1}}
    await sock.close()


async def test_a_second_login_replaces_the_previous_token(live):
    first = (await login(live, account="shop1", password="shop123456", type=1, client=5))["data"]["token"]
    second = (await login(live, account="shop1", password="shop123456", type=1, client=5))["data"]["token"]
    assert first != second
    assert (await call(live, "GET", "/kefuapi/chat/kefuInfo", first))["code"] == -1
    assert (await call(live, "GET", "/kefuapi/chat/kefuInfo", second))["code"] == 1


async def test_unknown_account_and_wrong_password_answer_alike(live):
    wrong = await login(live, account="shop1", password="nope-nope", type=1, client=5)
    unknown = await login(live, account="nobody", password="shop123456", type=1, client=5)
    # a merchant account is not a platform account: type 0 looks in `admin` only
    other_table = await login(live, account="shop1", password="shop123456", type=0, client=5)
    for body in (wrong, unknown, other_table):
        assert body == {"code": 0, "show": 1, "msg": "账号或密码错误", "data": []}
    assert await live.db.fetchval("SELECT count(*) FROM kefu_session") == 0


async def test_disabled_account_unbound_account_and_disabled_kefu(live):
    await live.db.execute("UPDATE shop_admin SET disable = 1 WHERE id = 3")
    assert (await login(live, account="shop2", password="shop123456", type=1))["msg"] == "账号已禁用"
    await live.db.execute("UPDATE kefu SET del = 1 WHERE id = 3")
    assert (await login(live, account="shop1b", password="shop123456", type=1))["msg"] == "该账号未绑定客服"
    await live.db.execute("UPDATE kefu SET disable = 1 WHERE id = 2")
    body = await login(live, account="shop1", password="shop123456", type=1)
    assert body["code"] == 0 and body["msg"] == "客服已被禁用"
    assert await live.db.fetchval("SELECT count(*) FROM kefu_session") == 0


async def test_legacy_md5_password_is_accepted_once_and_rehashed(live):
    await live.db.execute("UPDATE admin SET password = $1, salt = 's4lt' WHERE id = 1",
                          legacy_md5("old-pass-1", "s4lt"))
    body = await login(live, account="admin", password="old-pass-1", type=0, client=5)
    assert body["code"] == 1
    row = await live.db.fetchrow("SELECT password, salt FROM admin WHERE id = 1")
    assert row["password"].startswith("$argon2") and row["salt"] == ""
    assert (await login(live, account="admin", password="old-pass-1", type=0))["code"] == 1


@pytest.mark.parametrize("body, msg", [
    ({"password": "shop123456", "type": 1, "client": 5}, "请输入账号"),
    ({"account": "shop1", "type": 1, "client": 5}, "请输入密码"),
    ({"account": "shop1", "password": "", "type": 1}, "请输入密码"),
    ({"account": "shop1", "password": "shop123456", "client": 5}, "请选择账号类型"),
    ({"account": "shop1", "password": "shop123456", "type": 2, "client": 5}, "账号类型错误"),
    ({"account": "shop1", "password": "shop123456", "type": "x", "client": 5}, "账号类型错误"),
    ({"account": "shop1", "password": "shop123456", "type": 1, "client": 6}, "无效的客户端"),
    ({"account": "shop1", "password": "x" * 129, "type": 1, "client": 5}, "密码不能超过 128 个字符"),
    ({"account": ["shop1"], "password": "shop123456", "type": 1, "client": 5}, "账号必须是字符串"),
])
async def test_login_input_errors(live, body, msg):
    assert await login(live, **body) == {"code": 0, "show": 1, "msg": msg, "data": []}


async def test_login_with_a_broken_json_body(live):
    body = await call(live, "POST", "/kefuapi/account/login", data=b"{nope",
                      headers={"Content-Type": "application/json"})
    assert body["code"] == 0 and body["msg"] == "请求体不是有效的 JSON"


# ----------------------------------------------------------------------------------------- logout

async def test_logout_closes_open_sockets_with_4001_and_kills_the_token(live):
    from chat_server.keys import REVOCATION
    token = (await login(live, account="shop1", password="shop123456", type=1, client=5))["data"]["token"]
    sock = await live.connect(f"token={token}&type=kefu&client=5")
    await asyncio.wait_for(live.app[REVOCATION].listening.wait(), 5)

    body = await call(live, "POST", "/kefuapi/account/logout", token)
    assert body["code"] == 1 and body["data"] == []
    code, frames = await sock.closed()
    assert code == 4001
    assert frames[-1] == {"event": "error", "data": {"msg": "账号已退出登录或被禁用", "msg_type": 1}}

    assert (await call(live, "GET", "/kefuapi/chat/kefuInfo", token))["code"] == -1
    assert (await call(live, "POST", "/kefuapi/account/logout", token))["code"] == -1
    again = await live.connect(f"token={token}&type=kefu&client=5", expect_login=False)
    assert (await again.closed())[0] == 4001


async def test_logout_leaves_other_kefu_alone(live):
    from chat_server.keys import REVOCATION
    mine = await live.kefu_token(2)
    other = await live.kefu(3)
    await asyncio.wait_for(live.app[REVOCATION].listening.wait(), 5)
    assert (await call(live, "POST", "/kefuapi/account/logout", mine))["code"] == 1
    await other.send("ping")
    assert await other.expect("ping")
    assert (await call(live, "GET", "/kefuapi/chat/kefuInfo", await live.kefu_token(3)))["code"] == 1


# ------------------------------------------------------------------------- who the token lets in

def _authenticated_calls():
    """Every /kefuapi path that needs a login, with plausible parameters."""
    upload = aiohttp.FormData()
    upload.add_field("file", PNG, filename="a.png", content_type="image/png")
    return [("POST", "/kefuapi/account/logout", {}), ("GET", "/kefuapi/chat/user", {}),
            ("GET", "/kefuapi/chat/record", {"params": {"user_id": 7}}), ("GET", "/kefuapi/chat/online", {}),
            ("GET", "/kefuapi/chat/reply", {}), ("GET", "/kefuapi/chat/userInfo", {"params": {"user_id": 7}}),
            ("GET", "/kefuapi/chat/order", {"params": {"user_id": 7}}), ("GET", "/kefuapi/chat/kefuInfo", {}),
            ("POST", "/kefuapi/file/formImage", {"data": upload})]


async def _all_refused(live, token: str | None, headers: dict | None = None) -> None:
    for method, path, kw in _authenticated_calls():
        resp = await live.client.request(method, path, headers=headers or ({"token": token} if token else {}), **kw)
        body = await resp.json()
        assert resp.status == 200 and body["code"] == -1 and body["data"] == [], (path, body)
    assert await live.db.fetchval("SELECT count(*) FROM file") == 0


async def test_missing_malformed_and_unknown_tokens_are_code_minus_1(live):
    await _all_refused(live, None)
    await _all_refused(live, "", headers={"token": ""})
    await _all_refused(live, "not-a-token")
    await _all_refused(live, "0123456789ABCDEF0123456789ABCDEF")
    await _all_refused(live, "0123456789abcdef0123456789abcdef")


async def test_a_buyer_token_does_not_work_on_kefuapi(live):
    await _all_refused(live, await live.user_token(7))


async def test_an_expired_token_is_code_minus_1(live):
    token = await live.kefu_token(2)
    await live.db.execute("UPDATE kefu_session SET expire_time = now() - interval '1 second' WHERE token = $1", token)
    await _all_refused(live, token)


@pytest.mark.parametrize("change", [
    "UPDATE kefu SET disable = 1 WHERE id = 2",
    "UPDATE kefu SET del = 1 WHERE id = 2",
    "UPDATE shop_admin SET disable = 1 WHERE id = 1",
    "UPDATE shop_admin SET del = 1 WHERE id = 1",
    "UPDATE shop SET del = 1 WHERE id = 1",
])
async def test_disabled_or_deleted_kefu_or_admin_is_code_minus_1(live, change):
    token = await live.kefu_token(2)
    assert (await call(live, "GET", "/kefuapi/chat/kefuInfo", token))["code"] == 1
    # straight on the row, not through the back office: the check is made at every request
    await live.db.execute("ALTER TABLE shop_admin DISABLE TRIGGER shop_admin_revokes_kefu")
    await live.db.execute(change)
    await _all_refused(live, token)


async def test_disabled_platform_admin_takes_the_platform_kefu_out(live):
    token = await live.kefu_token(1)
    assert (await call(live, "GET", "/kefuapi/chat/kefuInfo", token))["code"] == 1
    await live.db.execute("ALTER TABLE admin DISABLE TRIGGER admin_revokes_kefu")
    await live.db.execute("UPDATE admin SET disable = 1 WHERE id = 1")
    await _all_refused(live, token)
