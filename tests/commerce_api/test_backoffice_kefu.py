"""Kefu accounts in the back office (/shopapi/kefu/*, /adminapi/kefu/*): CRUD scoped to the
caller's shop, revocation (sessions deleted + NOTIFY kefu_revoked) and "log in as kefu"."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.passwords import hash_password
from tests.commerce_api.helpers import TIME_RE, call, login


class Revocations:
    """What arrives on the kefu_revoked channel of the test's database."""

    def __init__(self):
        self.payloads: list[str] = []
        self.arrived = asyncio.Event()

    def __call__(self, conn, pid, channel, payload):
        self.payloads.append(payload)
        self.arrived.set()

    async def wait_for(self, *payloads: str) -> None:
        async with asyncio.timeout(5):
            while not set(payloads) <= set(self.payloads):
                self.arrived.clear()
                await self.arrived.wait()

    async def settle(self) -> list[str]:
        """Whatever arrived, after giving a stray notification time to come in."""
        await asyncio.sleep(0.3)
        return self.payloads


@pytest.fixture
async def revoked(db):
    listener = Revocations()
    await db.add_listener("kefu_revoked", listener)
    yield listener
    await db.remove_listener("kefu_revoked", listener)


async def add_shop_admin(db, shop_id, account):
    return await db.fetchval("INSERT INTO shop_admin (shop_id, name, account, password) VALUES ($1, $2, $2, $3)"
                             " RETURNING id", shop_id, account, hash_password("x-password"))


# ------------------------------------------------------------------------------------ list/detail

async def test_lists_own_shop_only(commerce):
    token = await login(commerce)
    body = await call(commerce, "GET", "/shopapi/kefu/lists", token)
    assert body["code"] == 1, body
    data = body["data"]
    assert (data["count"], data["page"], data["size"], data["more"]) == (2, 1, 15, 0)
    rows = data["list"]
    assert [(r["id"], r["nickname"], r["account"], r["name"]) for r in rows] == [
        (2, "Demo客服A", "shop1", "Demo店长"), (3, "Demo客服B", "shop1b", "Demo店员")]
    assert all(r["shop_id"] == 1 and r["admin_disable"] == 0 and TIME_RE.match(r["create_time"]) for r in rows)


async def test_lists_platform(commerce):
    token = await login(commerce, "/adminapi", "admin")
    rows = (await call(commerce, "GET", "/adminapi/kefu/lists", token))["data"]["list"]
    assert [(r["id"], r["shop_id"], r["account"], r["name"]) for r in rows] == [(1, 0, "admin", "平台管理员")]


async def test_lists_paging(commerce):
    token = await login(commerce)
    data = (await call(commerce, "GET", "/shopapi/kefu/lists?page_no=2&page_size=1", token))["data"]
    assert ([r["id"] for r in data["list"]], data["count"], data["more"]) == ([3], 2, 0)
    data = (await call(commerce, "GET", "/shopapi/kefu/lists?page_size=1", token))["data"]
    assert ([r["id"] for r in data["list"]], data["more"]) == ([2], 1)
    body = await call(commerce, "GET", "/shopapi/kefu/lists?page_no=x", token)
    assert body["code"] == 0 and body["msg"] == "page_no 必须是正整数"


async def test_detail(commerce):
    token = await login(commerce)
    body = await call(commerce, "GET", "/shopapi/kefu/detail?id=3", token)
    assert body["code"] == 1
    assert (body["data"]["id"], body["data"]["account"], body["data"]["avatar"]) == (3, "shop1b", "uploads/demo/kefu_3.png")


@pytest.mark.parametrize("query, message", [
    ("id=4", "客服不存在"),            # shop 2's kefu
    ("id=1", "客服不存在"),            # the platform's kefu
    ("id=999", "客服不存在"),
    ("", "请选择客服"),
    ("id=abc", "客服必须是整数"),
    ("id=0", "客服无效"),
    ("id=99999999999", "客服无效"),
])
async def test_detail_refuses(commerce, query, message):
    token = await login(commerce)
    body = await call(commerce, "GET", f"/shopapi/kefu/detail?{query}", token)
    assert (body["code"], body["msg"]) == (0, message)


async def test_requires_login(commerce):
    for path in ("/shopapi/kefu/lists", "/adminapi/kefu/lists", "/shopapi/kefu/detail?id=2"):
        assert (await call(commerce, "GET", path))["code"] == -1
    for path in ("add", "edit", "status", "del", "login"):
        assert (await call(commerce, "POST", f"/shopapi/kefu/{path}", json={"id": 2}))["code"] == -1


# -------------------------------------------------------------------------------------------- add

async def test_add_binds_a_free_admin_of_my_shop(commerce, db):
    admin_id = await add_shop_admin(db, 1, "shop1c")
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/add", token,
                      json={"admin_id": admin_id, "nickname": " 新客服 ", "avatar": "uploads/shop/1/a.png", "sort": 5})
    assert (body["code"], body["msg"]) == (1, "添加成功"), body
    data = body["data"]
    assert (data["shop_id"], data["admin_id"], data["nickname"], data["avatar"], data["sort"], data["disable"],
            data["account"]) == (1, admin_id, "新客服", "uploads/shop/1/a.png", 5, 0, "shop1c")
    row = await db.fetchrow("SELECT shop_id, admin_id, nickname FROM kefu WHERE id = $1", data["id"])
    assert tuple(row) == (1, admin_id, "新客服")
    again = await call(commerce, "POST", "/shopapi/kefu/add", token, json={"admin_id": admin_id, "nickname": "x"})
    assert (again["code"], again["msg"]) == (0, "该管理员已绑定客服")


async def test_add_form_encoded(commerce, db):
    admin_id = await add_shop_admin(db, 1, "shop1d")
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/add", token,
                      data={"admin_id": str(admin_id), "nickname": "表单客服", "sort": "2", "disable": "1"})
    assert body["code"] == 1, body
    assert (body["data"]["sort"], body["data"]["disable"], body["data"]["avatar"]) == (2, 1, "")


async def test_add_platform_kefu_binds_an_admin(commerce, db):
    admin_id = await db.fetchval("INSERT INTO admin (name, account, password) VALUES ('运营', 'ops', 'x') RETURNING id")
    token = await login(commerce, "/adminapi", "admin")
    body = await call(commerce, "POST", "/adminapi/kefu/add", token, json={"admin_id": admin_id, "nickname": "平台二号"})
    assert body["code"] == 1, body
    assert (body["data"]["shop_id"], body["data"]["account"]) == (0, "ops")
    # admin 1 already has the platform kefu
    body = await call(commerce, "POST", "/adminapi/kefu/add", token, json={"admin_id": 1, "nickname": "再来"})
    assert (body["code"], body["msg"]) == (0, "该管理员已绑定客服")


async def test_add_refuses_accounts_outside_my_shop(commerce, db):
    token = await login(commerce)
    # shop_admin 3 belongs to shop 2; a platform admin id is no shop_admin of shop 1 either
    other_shop_admin = await add_shop_admin(db, 2, "shop2b")
    for admin_id in (3, other_shop_admin, 999):
        body = await call(commerce, "POST", "/shopapi/kefu/add", token, json={"admin_id": admin_id, "nickname": "x"})
        assert (body["code"], body["msg"]) == (0, "管理员不存在"), admin_id
    assert await db.fetchval("SELECT count(*) FROM kefu WHERE shop_id = 1") == 2
    # the platform can only bind platform admins: shop_admin 4.. ids are not `admin` rows
    platform = await login(commerce, "/adminapi", "admin")
    body = await call(commerce, "POST", "/adminapi/kefu/add", platform, json={"admin_id": other_shop_admin, "nickname": "x"})
    assert (body["code"], body["msg"]) == (0, "管理员不存在")


async def test_add_refuses_disabled_or_deleted_admin(commerce, db):
    disabled = await add_shop_admin(db, 1, "shop1e")
    deleted = await add_shop_admin(db, 1, "shop1f")
    await db.execute("UPDATE shop_admin SET disable = 1 WHERE id = $1", disabled)
    await db.execute("UPDATE shop_admin SET del = 1 WHERE id = $1", deleted)
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/add", token, json={"admin_id": disabled, "nickname": "x"})
    assert (body["code"], body["msg"]) == (0, "该管理员已禁用")
    body = await call(commerce, "POST", "/shopapi/kefu/add", token, json={"admin_id": deleted, "nickname": "x"})
    assert (body["code"], body["msg"]) == (0, "管理员不存在")


@pytest.mark.parametrize("payload, message", [
    ({"nickname": "x"}, "请选择管理员"),
    ({"admin_id": "abc", "nickname": "x"}, "管理员必须是整数"),
    ({"admin_id": 1.5, "nickname": "x"}, "管理员必须是整数"),
    ({"admin_id": -1, "nickname": "x"}, "管理员无效"),
    ({"admin_id": 4}, "请输入客服昵称"),
    ({"admin_id": 4, "nickname": "  "}, "请输入客服昵称"),
    ({"admin_id": 4, "nickname": "客" * 33}, "客服昵称不能超过 32 个字符"),
    ({"admin_id": 4, "nickname": ["x"]}, "客服昵称必须是字符串"),
    ({"admin_id": 4, "nickname": "x", "avatar": "http://evil.example/a.png"}, "头像必须是上传文件的相对路径"),
    ({"admin_id": 4, "nickname": "x", "avatar": "uploads/../../etc/passwd"}, "头像必须是上传文件的相对路径"),
    ({"admin_id": 4, "nickname": "x", "avatar": "/etc/passwd"}, "头像必须是上传文件的相对路径"),
    ({"admin_id": 4, "nickname": "x", "avatar": "uploads/" + "a" * 300}, "头像必须是上传文件的相对路径"),
    ({"admin_id": 4, "nickname": "x", "sort": -1}, "排序必须是 0 到 999999 的整数"),
    ({"admin_id": 4, "nickname": "x", "sort": "first"}, "排序必须是整数"),
    ({"admin_id": 4, "nickname": "x", "disable": 2}, "禁用状态只能是 0 或 1"),
    ({"admin_id": 4, "nickname": "x", "disable": True}, "禁用状态只能是 0 或 1"),
])
async def test_add_bad_input(commerce, db, payload, message):
    await add_shop_admin(db, 1, "shop1g")   # id 4: free, so only the input is at fault
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/add", token, json=payload)
    assert (body["code"], body["msg"]) == (0, message)
    assert await db.fetchval("SELECT count(*) FROM kefu") == 4


# ------------------------------------------------------------------------------------------- edit

async def test_edit_changes_given_fields(commerce, db):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/edit", token, json={"id": 2, "nickname": "改名客服", "sort": 9})
    assert (body["code"], body["msg"]) == (1, "编辑成功"), body
    row = await db.fetchrow("SELECT nickname, sort, avatar, disable FROM kefu WHERE id = 2")
    assert tuple(row) == ("改名客服", 9, "uploads/demo/kefu_2.png", 0)
    body = await call(commerce, "POST", "/shopapi/kefu/edit", token, data={"id": "2", "avatar": ""})
    assert body["code"] == 1 and body["data"]["avatar"] == ""


async def test_edit_other_shops_kefu_is_refused(commerce, db):
    token = await login(commerce)
    for kefu_id in (4, 1):
        body = await call(commerce, "POST", "/shopapi/kefu/edit", token, json={"id": kefu_id, "nickname": "hijack"})
        assert (body["code"], body["msg"]) == (0, "客服不存在")
    assert await db.fetchval("SELECT count(*) FROM kefu WHERE nickname = 'hijack'") == 0


@pytest.mark.parametrize("payload, message", [
    ({"nickname": "x"}, "请选择客服"),
    ({"id": 2, "nickname": ""}, "请输入客服昵称"),
    ({"id": 2, "nickname": "x" * 40}, "客服昵称不能超过 32 个字符"),
    ({"id": 2, "avatar": "javascript:alert(1)"}, "头像必须是上传文件的相对路径"),
    ({"id": 2, "disable": "yes"}, "禁用状态只能是 0 或 1"),
])
async def test_edit_bad_input(commerce, db, payload, message):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/edit", token, json=payload)
    assert (body["code"], body["msg"]) == (0, message)
    assert await db.fetchval("SELECT nickname FROM kefu WHERE id = 2") == "Demo客服A"


# ------------------------------------------------------------------------------ log in as a kefu

async def test_login_as_kefu(commerce, db, settings):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/login", token, json={"id": 3})
    assert (body["code"], body["msg"]) == (1, "登录成功"), body
    data = body["data"]
    assert re.fullmatch(r"[0-9a-f]{32}", data["token"])
    assert data["kefu"] == {"id": 3, "shop_id": 1, "nickname": "Demo客服B", "avatar": "uploads/demo/kefu_3.png"}
    assert data["ws_url"] == settings.public_ws_url
    url = urlsplit(data["url"])
    assert data["url"].startswith(settings.public_chat_url + "/kefu/?")
    assert parse_qs(url.query) == {"token": [data["token"]], "shop_id": ["1"]}
    row = await db.fetchrow("SELECT kefu_id, shop_id, client, expire_time FROM kefu_session WHERE token = $1", data["token"])
    assert (row["kefu_id"], row["shop_id"], row["client"]) == (3, 1, 5)
    ttl = (row["expire_time"] - datetime.now(timezone.utc)).total_seconds()
    assert settings.kefu_token_ttl - 60 < ttl <= settings.kefu_token_ttl
    # logging in again replaces the token: one session per (kefu, client)
    again = await call(commerce, "POST", "/shopapi/kefu/login", token, data={"id": "3"})
    assert again["code"] == 1 and again["data"]["token"] != data["token"]
    assert await db.fetchval("SELECT array_agg(token) FROM kefu_session WHERE kefu_id = 3") == [again["data"]["token"]]


async def test_login_as_platform_kefu(commerce, db):
    token = await login(commerce, "/adminapi", "admin")
    body = await call(commerce, "POST", "/adminapi/kefu/login", token, json={"id": 1})
    assert body["code"] == 1, body
    assert body["data"]["kefu"]["shop_id"] == 0 and "shop_id=0" in body["data"]["url"]
    # the platform cannot log in as a merchant's kefu, nor a merchant as the platform's
    body = await call(commerce, "POST", "/adminapi/kefu/login", token, json={"id": 2})
    assert (body["code"], body["msg"]) == (0, "客服不存在")
    merchant = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/login", merchant, json={"id": 1})
    assert (body["code"], body["msg"]) == (0, "客服不存在")
    assert await db.fetchval("SELECT count(*) FROM kefu_session WHERE kefu_id <> 1") == 0


async def test_login_as_disabled_kefu_or_kefu_of_disabled_admin(commerce, db):
    token = await login(commerce)
    await db.execute("UPDATE kefu SET disable = 1 WHERE id = 2")
    body = await call(commerce, "POST", "/shopapi/kefu/login", token, json={"id": 2})
    assert (body["code"], body["msg"]) == (0, "该客服已禁用")
    await db.execute("UPDATE shop_admin SET disable = 1 WHERE id = 2")
    body = await call(commerce, "POST", "/shopapi/kefu/login", token, json={"id": 3})
    assert (body["code"], body["msg"]) == (0, "该客服绑定的管理员已禁用")
    detail = await call(commerce, "GET", "/shopapi/kefu/detail?id=3", token)
    assert detail["data"]["admin_disable"] == 1
    for query in ({"id": 4}, {"id": "x"}, {}):
        body = await call(commerce, "POST", "/shopapi/kefu/login", token, json=query)
        assert body["code"] == 0
    assert await db.fetchval("SELECT count(*) FROM kefu_session") == 0


# ------------------------------------------------------------------- disable, delete, revocation

async def kefu_session_of(commerce, token, kefu_id, prefix="/shopapi"):
    body = await call(commerce, "POST", f"{prefix}/kefu/login", token, json={"id": kefu_id})
    assert body["code"] == 1, body
    return body["data"]["token"]


async def test_disable_revokes_sessions_and_notifies(commerce, db, revoked):
    token = await login(commerce)
    await kefu_session_of(commerce, token, 2)
    await kefu_session_of(commerce, token, 3)
    body = await call(commerce, "POST", "/shopapi/kefu/status", token, json={"id": 2, "disable": 1})
    assert (body["code"], body["msg"]) == (1, "设置成功") and body["data"]["disable"] == 1
    await revoked.wait_for("2")
    assert await db.fetchval("SELECT array_agg(kefu_id) FROM kefu_session") == [3]
    assert await revoked.settle() == ["2"]
    # enabling again notifies nothing; the kefu logs in anew
    body = await call(commerce, "POST", "/shopapi/kefu/status", token, data={"id": "2", "disable": "0"})
    assert body["code"] == 1 and body["data"]["disable"] == 0
    assert await revoked.settle() == ["2"]
    await kefu_session_of(commerce, token, 2)


async def test_edit_to_disabled_revokes(commerce, db, revoked):
    token = await login(commerce, "/adminapi", "admin")
    await kefu_session_of(commerce, token, 1, "/adminapi")
    body = await call(commerce, "POST", "/adminapi/kefu/edit", token, json={"id": 1, "disable": 1, "nickname": "休息中"})
    assert body["code"] == 1
    await revoked.wait_for("1")
    assert await db.fetchval("SELECT count(*) FROM kefu_session WHERE kefu_id = 1") == 0


async def test_status_of_other_shops_kefu_changes_nothing(commerce, db, revoked):
    shop2 = await login(commerce, account="shop2")
    await kefu_session_of(commerce, shop2, 4)
    token = await login(commerce)
    for path, payload in (("status", {"id": 4, "disable": 1}), ("del", {"id": 4}), ("status", {"id": 1, "disable": 1})):
        body = await call(commerce, "POST", f"/shopapi/kefu/{path}", token, json=payload)
        assert (body["code"], body["msg"]) == (0, "客服不存在")
    assert tuple(await db.fetchrow("SELECT disable, del FROM kefu WHERE id = 4")) == (0, 0)
    assert await db.fetchval("SELECT count(*) FROM kefu_session WHERE kefu_id = 4") == 1
    assert await revoked.settle() == []


@pytest.mark.parametrize("payload, message", [
    ({"id": 2}, "请选择禁用状态"),
    ({"disable": 1}, "请选择客服"),
    ({"id": 2, "disable": 5}, "禁用状态只能是 0 或 1"),
    ({"id": "2; DROP TABLE kefu", "disable": 1}, "客服必须是整数"),
])
async def test_status_bad_input(commerce, db, payload, message):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefu/status", token, json=payload)
    assert (body["code"], body["msg"]) == (0, message)
    assert await db.fetchval("SELECT disable FROM kefu WHERE id = 2") == 0


async def test_delete_revokes_and_frees_the_admin(commerce, db, revoked):
    token = await login(commerce)
    await kefu_session_of(commerce, token, 3)
    body = await call(commerce, "POST", "/shopapi/kefu/del", token, data={"id": "3"})
    assert (body["code"], body["msg"]) == (1, "删除成功")
    await revoked.wait_for("3")
    assert await db.fetchval("SELECT del FROM kefu WHERE id = 3") == 1
    assert await db.fetchval("SELECT count(*) FROM kefu_session WHERE kefu_id = 3") == 0
    ids = [r["id"] for r in (await call(commerce, "GET", "/shopapi/kefu/lists", token))["data"]["list"]]
    assert ids == [2]
    assert (await call(commerce, "POST", "/shopapi/kefu/del", token, json={"id": 3}))["msg"] == "客服不存在"
    assert (await call(commerce, "GET", "/shopapi/kefu/detail?id=3", token))["msg"] == "客服不存在"
    assert (await call(commerce, "POST", "/shopapi/kefu/login", token, json={"id": 3}))["msg"] == "客服不存在"
    # shop_admin 2 may be bound again
    body = await call(commerce, "POST", "/shopapi/kefu/add", token, json={"admin_id": 2, "nickname": "回来了"})
    assert body["code"] == 1, body


async def test_disabling_or_deleting_the_bound_admin_revokes(commerce, db, revoked):
    shop1 = await login(commerce)
    await kefu_session_of(commerce, shop1, 2)
    await kefu_session_of(commerce, shop1, 3)
    platform = await login(commerce, "/adminapi", "admin")
    await kefu_session_of(commerce, platform, 1, "/adminapi")
    await db.execute("UPDATE shop_admin SET disable = 1 WHERE id = 2")
    await revoked.wait_for("3")
    assert sorted(await db.fetchval("SELECT array_agg(kefu_id) FROM kefu_session")) == [1, 2]
    await db.execute("UPDATE shop_admin SET del = 1 WHERE id = 1")
    await revoked.wait_for("2")
    await db.execute("UPDATE admin SET disable = 1 WHERE id = 1")
    await revoked.wait_for("1")
    assert await db.fetchval("SELECT count(*) FROM kefu_session") == 0
    # unrelated updates of an account notify nothing more
    await db.execute("UPDATE shop_admin SET name = 'x' WHERE id = 3")
    assert sorted(await revoked.settle()) == ["1", "2", "3"]


async def test_notification_only_when_the_change_commits(commerce, db, revoked):
    token = await login(commerce)
    await kefu_session_of(commerce, token, 2)
    tr = db.transaction()
    await tr.start()
    await db.execute("UPDATE shop_admin SET disable = 1 WHERE id = 1")
    await tr.rollback()
    assert await revoked.settle() == []
    assert await db.fetchval("SELECT count(*) FROM kefu_session WHERE kefu_id = 2") == 1
