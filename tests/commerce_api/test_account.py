"""Buyer login, registration and logout (/api/account/*) against the demo data."""
import asyncio
import re

import pytest

from commerce_api.data import users
from shared.passwords import legacy_md5

LOGIN = "/api/account/login"
REGISTER = "/api/account/register"
LOGOUT = "/api/account/logout"
INFO = "/api/user/info"
USER1 = {"mobile": "13800000001", "password": "user123456", "client": 6}


async def call(commerce, path, *, json=None, data=None, token=None):
    headers = {"token": token} if token else {}
    resp = await commerce.post(path, json=json, data=data, headers=headers)
    assert resp.status == 200
    return await resp.json()


async def info_code(commerce, token):
    resp = await commerce.get(INFO, headers={"token": token})
    return (await resp.json())["code"]


# ------------------------------------------------------------------------------------------ login

async def test_login_json_returns_token_and_opens_session(commerce, db, settings):
    body = await call(commerce, LOGIN, json=USER1)
    assert body["code"] == 1 and body["msg"] == "登录成功"
    data = body["data"]
    assert set(data) == {"id", "nickname", "avatar", "level", "token"}
    assert (data["id"], data["nickname"], data["level"]) == (1, "买家01", 2)
    assert data["avatar"] == settings.public_base_url + "uploads/demo/user.png"
    assert re.fullmatch(r"[0-9a-f]{32}", data["token"])
    session = await db.fetchrow(
        "SELECT token, client, extract(epoch FROM expire_time - now()) AS ttl FROM session WHERE user_id = 1")
    assert session["token"] == data["token"] and session["client"] == 6
    assert abs(float(session["ttl"]) - settings.user_token_ttl) < 60
    user = await db.fetchrow('SELECT login_time, login_ip FROM "user" WHERE id = 1')
    assert user["login_time"] is not None and user["login_ip"] == "127.0.0.1"
    assert await info_code(commerce, data["token"]) == 1


async def test_login_form_encoded_and_numeric_mobile(commerce):
    form = await call(commerce, LOGIN, data={"mobile": "13800000002", "password": "user123456", "client": "1"})
    assert form["code"] == 1 and form["data"]["id"] == 2
    numeric = await call(commerce, LOGIN, json={"mobile": 13800000003, "password": "user123456", "client": "2"})
    assert numeric["code"] == 1 and numeric["data"]["id"] == 3


async def test_relogin_replaces_the_token_of_that_client_only(commerce):
    first = (await call(commerce, LOGIN, json=USER1))["data"]["token"]
    other_client = (await call(commerce, LOGIN, json={**USER1, "client": 1}))["data"]["token"]
    second = (await call(commerce, LOGIN, json=USER1))["data"]["token"]
    assert len({first, second, other_client}) == 3
    assert await info_code(commerce, first) == -1
    assert await info_code(commerce, second) == 1
    assert await info_code(commerce, other_client) == 1


@pytest.mark.parametrize("payload, message", [
    ({"password": "user123456", "client": 6}, "请输入手机号"),
    ({"mobile": "  ", "password": "user123456", "client": 6}, "请输入手机号"),
    ({"mobile": None, "password": "user123456", "client": 6}, "请输入手机号"),
    ({"mobile": "1380000", "password": "user123456", "client": 6}, "请输入正确的手机号"),
    ({"mobile": "23800000001", "password": "user123456", "client": 6}, "请输入正确的手机号"),
    ({"mobile": ["13800000001"], "password": "user123456", "client": 6}, "请输入正确的手机号"),
    ({"mobile": "13800000001", "client": 6}, "请输入密码"),
    ({"mobile": "13800000001", "password": "", "client": 6}, "请输入密码"),
    ({"mobile": "13800000001", "password": "x" * 129, "client": 6}, "密码长度不能超过128位"),
    ({"mobile": "13900000000", "password": "user123456", "client": 6}, "账号不存在"),
    ({"mobile": "13800000001", "password": "wrong-password", "client": 6}, "密码错误"),
    ({"mobile": "13800000001", "password": "user123456"}, "无效的客户端"),
    ({"mobile": "13800000001", "password": "user123456", "client": 5}, "无效的客户端"),
    ({"mobile": "13800000001", "password": "user123456", "client": 7}, "无效的客户端"),
    ({"mobile": "13800000001", "password": "user123456", "client": "pc"}, "无效的客户端"),
    ({"mobile": "13800000001", "password": "user123456", "client": True}, "无效的客户端"),
])
async def test_login_errors(commerce, db, payload, message):
    body = await call(commerce, LOGIN, json=payload)
    assert (body["code"], body["msg"], body["show"]) == (0, message, 1)
    assert await db.fetchval("SELECT count(*) FROM session") == 0


async def test_login_first_field_error_wins(commerce):
    body = await call(commerce, LOGIN, json={})
    assert body["msg"] == "请输入手机号"


async def test_disabled_and_deleted_accounts(commerce, db):
    await db.execute('UPDATE "user" SET disable = 1 WHERE id = 1')
    await db.execute('UPDATE "user" SET del = 1 WHERE id = 2')
    disabled = await call(commerce, LOGIN, json=USER1)
    assert (disabled["code"], disabled["msg"]) == (0, "账号已禁用")
    # the disabled flag is only revealed to someone who knows the password
    guessed = await call(commerce, LOGIN, json={**USER1, "password": "guess"})
    assert guessed["msg"] == "密码错误"
    deleted = await call(commerce, LOGIN, json={**USER1, "mobile": "13800000002"})
    assert (deleted["code"], deleted["msg"]) == (0, "账号不存在")


async def test_legacy_md5_password_is_rehashed_on_login(commerce, db):
    await db.execute('UPDATE "user" SET password = $1, salt = $2 WHERE id = 4',
                     legacy_md5("old-secret", "Ab12"), "Ab12")
    creds = {"mobile": "13800000004", "password": "old-secret", "client": 6}
    assert (await call(commerce, LOGIN, json=creds))["code"] == 1
    row = await db.fetchrow('SELECT password, salt FROM "user" WHERE id = 4')
    assert row["password"].startswith("$argon2") and row["salt"] == ""
    assert (await call(commerce, LOGIN, json=creds))["code"] == 1
    assert (await call(commerce, LOGIN, json={**creds, "password": "user123456"}))["msg"] == "密码错误"


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "请求体不是有效的 JSON"),
    (b'["13800000001"]', "请求体必须是 JSON 对象"),
])
async def test_login_bad_json_body(commerce, raw, message):
    resp = await commerce.post(LOGIN, data=raw, headers={"Content-Type": "application/json"})
    body = await resp.json()
    assert resp.status == 200 and (body["code"], body["msg"]) == (0, message)


# --------------------------------------------------------------------------------------- register

async def test_register_json_creates_user_and_logs_in(commerce, db):
    body = await call(commerce, REGISTER, json={"mobile": "13912345678", "password": "secret1", "client": 3})
    assert body["code"] == 1 and body["msg"] == "注册成功"
    data = body["data"]
    assert set(data) == {"id", "nickname", "avatar", "level", "token"}
    assert data["nickname"] == "用户5678" and data["level"] == 1 and data["avatar"] == ""
    user = await db.fetchrow('SELECT * FROM "user" WHERE id = $1', data["id"])
    assert user["mobile"] == "13912345678" and user["client"] == 3 and user["level"] == 1
    assert re.fullmatch(r"[1-9][0-9]{7}", user["sn"])
    assert user["password"].startswith("$argon2") and "secret1" not in user["password"]
    assert user["login_time"] is not None
    assert await db.fetchval("SELECT client FROM session WHERE token = $1", data["token"]) == 3
    assert await info_code(commerce, data["token"]) == 1
    again = await call(commerce, LOGIN, json={"mobile": "13912345678", "password": "secret1", "client": 6})
    assert again["code"] == 1 and again["data"]["id"] == data["id"]


async def test_register_form_encoded(commerce):
    body = await call(commerce, REGISTER, data={"mobile": "13912340000", "password": "secret12", "client": "6"})
    assert body["code"] == 1 and body["data"]["nickname"] == "用户0000"


@pytest.mark.parametrize("payload, message", [
    ({"mobile": "13800000001", "password": "secret1", "client": 6}, "手机号已注册"),
    ({"mobile": "1391234567", "password": "secret1", "client": 6}, "请输入正确的手机号"),
    ({"password": "secret1", "client": 6}, "请输入手机号"),
    ({"mobile": "13912345678", "client": 6}, "请输入密码"),
    ({"mobile": "13912345678", "password": "12345", "client": 6}, "密码长度须为6-32位"),
    ({"mobile": "13912345678", "password": "x" * 33, "client": 6}, "密码长度须为6-32位"),
    ({"mobile": "13912345678", "password": "secret1", "client": 5}, "无效的客户端"),
    ({"mobile": "13912345678", "password": "secret1", "client": "0"}, "无效的客户端"),
])
async def test_register_errors(commerce, db, payload, message):
    before = await db.fetchval('SELECT count(*) FROM "user"')
    body = await call(commerce, REGISTER, json=payload)
    assert (body["code"], body["msg"]) == (0, message)
    assert await db.fetchval('SELECT count(*) FROM "user"') == before


async def test_register_reuses_the_mobile_of_a_deleted_account(commerce, db):
    await db.execute('UPDATE "user" SET del = 1 WHERE id = 5')
    body = await call(commerce, REGISTER, json={"mobile": "13800000005", "password": "secret1", "client": 6})
    assert body["code"] == 1 and body["data"]["id"] != 5


async def test_concurrent_registrations_of_one_mobile_create_one_account(commerce, db):
    payload = {"mobile": "13955550000", "password": "secret1", "client": 6}
    bodies = await asyncio.gather(*(call(commerce, REGISTER, json=payload) for _ in range(4)))
    assert sorted(b["code"] for b in bodies) == [0, 0, 0, 1]
    assert {b["msg"] for b in bodies if b["code"] == 0} == {"手机号已注册"}
    assert await db.fetchval('SELECT count(*) FROM "user" WHERE mobile = $1', "13955550000") == 1


async def test_create_user_turns_the_unique_index_into_mobile_taken(db):
    # The path a lost race takes: the pre-check passed, the index refuses.
    async with db.transaction():
        with pytest.raises(users.MobileTaken):
            await users.create_user(db, "13800000001", "hash", 6, "")
        # the savepoint kept the outer transaction usable
        assert await db.fetchval("SELECT 1") == 1


# ----------------------------------------------------------------------------------------- logout

async def test_logout_expires_only_that_clients_session(commerce, db):
    h5 = (await call(commerce, LOGIN, json=USER1))["data"]["token"]
    app = (await call(commerce, LOGIN, json={**USER1, "client": 4}))["data"]["token"]
    body = await call(commerce, LOGOUT, json={}, token=h5)
    assert body["code"] == 1 and body["msg"] == "退出成功"
    assert await info_code(commerce, h5) == -1
    assert await db.fetchval("SELECT expire_time <= now() FROM session WHERE token = $1", h5)
    assert await info_code(commerce, app) == 1
    again = await call(commerce, LOGOUT, json={}, token=h5)
    assert again["code"] == -1


async def test_logout_with_form_body(commerce):
    token = (await call(commerce, LOGIN, json=USER1))["data"]["token"]
    body = await call(commerce, LOGOUT, data={"client": "6"}, token=token)
    assert body["code"] == 1
    assert await info_code(commerce, token) == -1


@pytest.mark.parametrize("token", [None, "", "not-a-token", "0" * 32, "A" * 32])
async def test_logout_needs_a_valid_token(commerce, token):
    body = await call(commerce, LOGOUT, json={}, token=token)
    assert body["code"] == -1


async def test_expired_token_is_not_logged_in(commerce, db):
    token = (await call(commerce, LOGIN, json=USER1))["data"]["token"]
    await db.execute("UPDATE session SET expire_time = now() - interval '1 second' WHERE token = $1", token)
    assert await info_code(commerce, token) == -1
    assert (await call(commerce, LOGOUT, json={}, token=token))["code"] == -1
