"""The buyer's own profile, /api/user/info."""
import re

import pytest

LOGIN = "/api/account/login"
INFO = "/api/user/info"


async def login(commerce, user_id=1, client=6):
    resp = await commerce.post(LOGIN, json={"mobile": f"138{user_id:08d}", "password": "user123456",
                                            "client": client})
    body = await resp.json()
    assert body["code"] == 1, body
    return body["data"]["token"]


async def get_info(commerce, token):
    resp = await commerce.get(INFO, headers={"token": token} if token is not None else {})
    assert resp.status == 200
    return await resp.json()


async def test_info_is_the_callers_profile(commerce, db, settings):
    body = await get_info(commerce, await login(commerce, 1))
    assert body["code"] == 1
    data = body["data"]
    assert set(data) == {"id", "sn", "nickname", "avatar", "mobile", "level", "level_name", "sex", "birthday",
                         "user_money", "user_integral", "total_order_amount", "client", "create_time"}
    row = await db.fetchrow('SELECT * FROM "user" WHERE id = 1')
    assert data["id"] == 1 and data["sn"] == "10000001" and data["nickname"] == "买家01"
    assert data["mobile"] == "13800000001"          # unmasked: it is the caller's own
    assert data["level"] == 2 and data["level_name"] == "黄金会员"
    assert data["avatar"] == settings.public_base_url + "uploads/demo/user.png"
    assert data["birthday"] == row["birthday"].strftime("%Y-%m-%d")
    assert data["total_order_amount"] == f"{row['total_order_amount']:.2f}" and data["user_money"] == "0.00"
    assert data["user_integral"] == 0 and data["client"] == 6 and data["sex"] == row["sex"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", data["create_time"])


async def test_info_formats_time_in_the_mall_zone_and_empty_birthday(commerce, db):
    await db.execute("""UPDATE "user" SET birthday = NULL, level = NULL, user_money = 12.5,
                        create_time = '2024-01-01 00:00:00+00' WHERE id = 7""")
    data = (await get_info(commerce, await login(commerce, 7)))["data"]
    assert data["birthday"] == "" and data["level"] is None and data["level_name"] == ""
    assert data["user_money"] == "12.50"
    assert data["create_time"] == "2024-01-01 08:00:00"   # Asia/Shanghai


async def test_each_token_sees_its_own_user(commerce):
    assert (await get_info(commerce, await login(commerce, 9)))["data"]["id"] == 9
    assert (await get_info(commerce, await login(commerce, 10)))["data"]["id"] == 10


@pytest.mark.parametrize("token", [None, "", "garbage", "f" * 32])
async def test_info_needs_a_token(commerce, token):
    body = await get_info(commerce, token)
    assert body["code"] == -1 and body["data"] == []


async def test_disabled_or_deleted_user_is_logged_out(commerce, db):
    disabled, deleted = await login(commerce, 11), await login(commerce, 12)
    await db.execute('UPDATE "user" SET disable = 1 WHERE id = 11')
    await db.execute('UPDATE "user" SET del = 1 WHERE id = 12')
    assert (await get_info(commerce, disabled))["code"] == -1
    assert (await get_info(commerce, deleted))["code"] == -1


async def test_info_path_is_case_insensitive(commerce):
    resp = await commerce.get("/api/User/Info", headers={"token": await login(commerce, 1)})
    assert (await resp.json())["data"]["id"] == 1
