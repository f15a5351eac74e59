"""Quick replies in the back office (/shopapi/kefuLang/*, /adminapi/kefuLang/*): scoped to the
caller's shop, titles and contents unique per shop."""
from __future__ import annotations

import pytest

from tests.commerce_api.helpers import call, login


async def reply_id(db, shop_id, title):
    return await db.fetchval("SELECT id FROM kefu_lang WHERE shop_id = $1 AND title = $2", shop_id, title)


# ------------------------------------------------------------------------------------------ lists

async def test_lists_own_shop_by_sort(commerce, db):
    await db.execute("UPDATE kefu_lang SET sort = 0 WHERE shop_id = 1 AND title = '结束语'")
    token = await login(commerce)
    body = await call(commerce, "GET", "/shopapi/kefuLang/lists", token)
    assert body["code"] == 1, body
    data = body["data"]
    assert data["count"] == 4 and data["more"] == 0
    assert [r["title"] for r in data["list"]] == ["结束语", "问候", "发货时间", "退换货"]
    assert {r["shop_id"] for r in data["list"]} == {1}
    assert set(data["list"][0]) == {"id", "shop_id", "title", "content", "sort", "create_time", "update_time"}


async def test_lists_platform(commerce):
    token = await login(commerce, "/adminapi", "admin")
    data = (await call(commerce, "GET", "/adminapi/kefulang/lists", token))["data"]
    assert data["count"] == 3 and all(r["shop_id"] == 0 for r in data["list"])


async def test_lists_keyword_and_paging(commerce, db):
    token = await login(commerce)
    data = (await call(commerce, "GET", "/shopapi/kefuLang/lists?keyword=发货", token))["data"]
    assert [r["title"] for r in data["list"]] == ["发货时间"]
    data = (await call(commerce, "GET", "/shopapi/kefuLang/lists?keyword=七天无理由", token))["data"]
    assert [r["title"] for r in data["list"]] == ["退换货"]   # matched in the content
    # LIKE wildcards in the keyword are literal characters
    data = (await call(commerce, "GET", "/shopapi/kefuLang/lists?keyword=%25", token))["data"]
    assert data["count"] == 0
    await db.execute("INSERT INTO kefu_lang (shop_id, title, content) VALUES (1, '100%好评', '谢谢')")
    data = (await call(commerce, "GET", "/shopapi/kefuLang/lists?keyword=%25", token))["data"]
    assert [r["title"] for r in data["list"]] == ["100%好评"]
    data = (await call(commerce, "GET", "/shopapi/kefuLang/lists?page_no=2&page_size=2", token))["data"]
    assert (len(data["list"]), data["count"], data["more"], data["page"]) == (2, 5, 1, 2)
    body = await call(commerce, "GET", "/shopapi/kefuLang/lists?keyword=" + "k" * 65, token)
    assert (body["code"], body["msg"]) == (0, "关键词不能超过 64 个字符")


async def test_detail(commerce, db):
    token = await login(commerce)
    own = await reply_id(db, 1, "问候")
    body = await call(commerce, "GET", f"/shopapi/kefuLang/detail?id={own}", token)
    assert body["code"] == 1 and body["data"]["content"].startswith("您好，欢迎光临")
    other = await reply_id(db, 2, "问候")
    body = await call(commerce, "GET", f"/shopapi/kefuLang/detail?id={other}", token)
    assert (body["code"], body["msg"]) == (0, "快捷回复不存在")


async def test_requires_login(commerce):
    assert (await call(commerce, "GET", "/shopapi/kefuLang/lists"))["code"] == -1
    assert (await call(commerce, "POST", "/adminapi/kefuLang/add", json={"title": "a", "content": "b"}))["code"] == -1


# -------------------------------------------------------------------------------------------- add

async def test_add_json_and_form(commerce, db):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefuLang/add", token, json={"title": " 包邮 ", "content": "满 99 包邮", "sort": 3})
    assert (body["code"], body["msg"]) == (1, "添加成功"), body
    assert (body["data"]["title"], body["data"]["content"], body["data"]["sort"], body["data"]["shop_id"]) == (
        "包邮", "满 99 包邮", 3, 1)
    body = await call(commerce, "POST", "/shopapi/kefuLang/add", token, data={"title": "发票", "content": "可开电子发票"})
    assert body["code"] == 1 and body["data"]["sort"] == 1
    assert await db.fetchval("SELECT count(*) FROM kefu_lang WHERE shop_id = 1") == 6


async def test_add_duplicates(commerce, db):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefuLang/add", token, json={"title": "问候", "content": "新的问候"})
    assert (body["code"], body["msg"]) == (0, "标题已存在")
    body = await call(commerce, "POST", "/shopapi/kefuLang/add", token,
                      json={"title": "新标题", "content": "付款后 48 小时内发货，节假日顺延。"})
    assert (body["code"], body["msg"]) == (0, "内容已存在")
    # uniqueness is per shop: shop 2 may use shop 1's title and content
    shop2 = await login(commerce, account="shop2")
    body = await call(commerce, "POST", "/shopapi/kefuLang/add", shop2,
                      json={"title": "发货时间", "content": "付款后 48 小时内发货，节假日顺延。"})
    assert body["code"] == 1, body
    assert await db.fetchval("SELECT count(*) FROM kefu_lang WHERE shop_id = 1") == 4


async def test_add_platform(commerce, db):
    token = await login(commerce, "/adminapi", "admin")
    body = await call(commerce, "POST", "/adminapi/kefuLang/add", token, json={"title": "平台活动", "content": "双十一全场五折"})
    assert body["code"] == 1 and body["data"]["shop_id"] == 0
    body = await call(commerce, "POST", "/adminapi/kefuLang/add", token, json={"title": "售后", "content": "x"})
    assert (body["code"], body["msg"]) == (0, "标题已存在")


@pytest.mark.parametrize("payload, message", [
    ({"content": "c"}, "请输入标题"),
    ({"title": "   ", "content": "c"}, "请输入标题"),
    ({"title": "t"}, "请输入内容"),
    ({"title": "t" * 65, "content": "c"}, "标题不能超过 64 个字符"),
    ({"title": "t", "content": "c" * 1001}, "内容不能超过 1000 个字符"),
    ({"title": 5, "content": "c"}, "标题必须是字符串"),
    ({"title": "t", "content": {"a": 1}}, "内容必须是字符串"),
    ({"title": "t\u0000", "content": "c"}, "标题含有无效字符"),
    ({"title": "t", "content": "c", "sort": "abc"}, "排序必须是整数"),
    ({"title": "t", "content": "c", "sort": 10**12}, "排序必须是 0 到 999999 的整数"),
])
async def test_add_bad_input(commerce, db, payload, message):
    token = await login(commerce)
    body = await call(commerce, "POST", "/shopapi/kefuLang/add", token, json=payload)
    assert (body["code"], body["msg"]) == (0, message)
    assert await db.fetchval("SELECT count(*) FROM kefu_lang WHERE shop_id = 1") == 4


# ------------------------------------------------------------------------------------ edit/delete

async def test_edit(commerce, db):
    token = await login(commerce)
    own = await reply_id(db, 1, "问候")
    body = await call(commerce, "POST", "/shopapi/kefuLang/edit", token, json={"id": own, "content": "您好！", "sort": 7})
    assert (body["code"], body["msg"]) == (1, "编辑成功"), body
    assert tuple(await db.fetchrow("SELECT title, content, sort FROM kefu_lang WHERE id = $1", own)) == ("问候", "您好！", 7)
    body = await call(commerce, "POST", "/shopapi/kefuLang/edit", token, data={"id": str(own), "title": "问好"})
    assert body["code"] == 1 and body["data"]["title"] == "问好"


async def test_edit_duplicates_and_blank(commerce, db):
    token = await login(commerce)
    own = await reply_id(db, 1, "问候")
    body = await call(commerce, "POST", "/shopapi/kefuLang/edit", token, json={"id": own, "title": "结束语"})
    assert (body["code"], body["msg"]) == (0, "标题已存在")
    body = await call(commerce, "POST", "/shopapi/kefuLang/edit", token, json={"id": own, "content": "感谢您的光临，欢迎再来！"})
    assert (body["code"], body["msg"]) == (0, "内容已存在")
    body = await call(commerce, "POST", "/shopapi/kefuLang/edit", token, json={"id": own, "title": ""})
    assert (body["code"], body["msg"]) == (0, "请输入标题")
    body = await call(commerce, "POST", "/shopapi/kefuLang/edit", token, json={"title": "x"})
    assert (body["code"], body["msg"]) == (0, "请选择快捷回复")
    assert await db.fetchval("SELECT title FROM kefu_lang WHERE id = $1", own) == "问候"


async def test_edit_and_delete_other_shops_reply_are_refused(commerce, db):
    token = await login(commerce)
    other = await reply_id(db, 2, "问候")
    platform = await reply_id(db, 0, "问候")
    for target in (other, platform):
        body = await call(commerce, "POST", "/shopapi/kefuLang/edit", token, json={"id": target, "title": "hijack"})
        assert (body["code"], body["msg"]) == (0, "快捷回复不存在")
        body = await call(commerce, "POST", "/shopapi/kefuLang/del", token, json={"id": target})
        assert (body["code"], body["msg"]) == (0, "快捷回复不存在")
    assert await db.fetchval("SELECT count(*) FROM kefu_lang WHERE id = ANY($1::int[]) AND title = '问候'",
                             [other, platform]) == 2


async def test_delete(commerce, db):
    token = await login(commerce, "/adminapi", "admin")
    target = await reply_id(db, 0, "售后")
    body = await call(commerce, "POST", "/adminapi/kefuLang/del", token, data={"id": str(target)})
    assert (body["code"], body["msg"]) == (1, "删除成功")
    assert await db.fetchval("SELECT count(*) FROM kefu_lang WHERE id = $1", target) == 0
    body = await call(commerce, "POST", "/adminapi/kefuLang/del", token, json={"id": target})
    assert (body["code"], body["msg"]) == (0, "快捷回复不存在")
    body = await call(commerce, "POST", "/adminapi/kefuLang/del", token, json={"id": "all"})
    assert (body["code"], body["msg"]) == (0, "快捷回复必须是整数")
    assert await db.fetchval("SELECT count(*) FROM kefu_lang WHERE shop_id = 0") == 2
