"""The kefu console's image upload (spec §5.1 上传文件) and sending the uploaded image as a chat message."""
import re

import aiohttp

from shared.demo_data import _png
from shared.uploads import local_path
from tests.chat_server.http_helpers import assert_int, call

BASE_URI_RE = re.compile(r"^uploads/kefu/(\d+)/\d{8}/[0-9a-f]{32}\.png$")


def image_form(data: bytes, filename: str = "photo.png", field: str = "file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, data, filename=filename, content_type="image/png")
    return form


async def upload(live, token: str, form: aiohttp.FormData, path: str = "/kefuapi/file/formImage") -> dict:
    return await call(live, "POST", path, token, data=form)


async def test_upload_answers_the_likeshop_payload_and_stores_the_file(live):
    image = _png((10, 20, 30))
    body = await upload(live, await live.kefu_token(2), image_form(image))
    assert body["code"] == 1 and body["msg"] == "上传成功", body
    data = body["data"]
    assert set(data) == {"id", "cid", "type", "name", "shop_id", "uri", "base_uri"}
    assert_int(data["id"], data["cid"], data["type"], data["shop_id"])
    assert (data["cid"], data["type"], data["name"], data["shop_id"]) == (0, 10, "photo.png", 1)
    match = BASE_URI_RE.match(data["base_uri"])
    assert match and match.group(1) == "2"
    assert data["uri"] == live.settings.public_base_url + data["base_uri"]
    assert local_path(live.settings.upload_dir, data["base_uri"]).read_bytes() == image
    row = await live.db.fetchrow("SELECT uploader_type, uploader_id, shop_id, size FROM file WHERE id = $1", data["id"])
    assert dict(row) == {"uploader_type": "kefu", "uploader_id": 2, "shop_id": 1, "size": len(image)}
    # the lower-case action name works too; the platform kefu's files belong to shop 0
    lower = await upload(live, await live.kefu_token(1), image_form(image), "/kefuapi/file/formimage")
    assert lower["code"] == 1 and lower["data"]["shop_id"] == 0
    assert BASE_URI_RE.match(lower["data"]["base_uri"]).group(1) == "1"


async def test_uploaded_image_can_be_sent_and_nobody_else_can_send_it(live):
    base_uri = (await upload(live, await live.kefu_token(2), image_form(_png((1, 2, 3)))))["data"]["base_uri"]
    kefu, colleague = await live.kefu(2), await live.kefu(3)
    user = await live.user(7, shop_id=1)
    await user.send("user_online", {"kefu_id": 2})
    await kefu.expect("user_online")

    await kefu.send("chat", {"msg": base_uri, "msg_type": 2, "to_id": 7, "to_type": "user"})
    echo = await kefu.expect("chat")
    got = await user.expect("chat")
    assert got == echo and (got["msg"], got["msg_type"], got["from_id"], got["goods"]) == (base_uri, 2, 2, [])

    await colleague.send("chat", {"msg": base_uri, "msg_type": 2, "to_id": 7, "to_type": "user"})
    assert await colleague.expect("error") == {"msg": "图片不存在或不属于你", "msg_type": 1}
    await user.send("chat", {"msg": base_uri, "msg_type": 2, "to_id": 2, "to_type": "kefu"})
    assert await user.expect("error") == {"msg": "图片不存在或不属于你", "msg_type": 1}
    assert await live.db.fetchval("SELECT count(*) FROM chat_record WHERE msg_type = 2") == 1


async def test_record_and_user_list_media_stay_relative(live):
    """The console prefixes `base_domain` to these itself, so they must not come absolute."""
    base_uri = (await upload(live, await live.kefu_token(2), image_form(_png((4, 5, 6)))))["data"]["base_uri"]
    kefu, user = await live.kefu(2), await live.user(7, shop_id=1)
    await user.send("chat", {"msg": "5", "msg_type": 3, "to_id": 2, "to_type": "kefu"})
    await kefu.expect("chat")
    await kefu.send("chat", {"msg": base_uri, "msg_type": 2, "to_id": 7, "to_type": "user"})
    await user.expect("chat")

    token = await live.kefu_token(2)
    records = (await call(live, "GET", "/kefuapi/chat/record", token, params={"user_id": 7}))["data"]["list"]
    card, image = [r for r in records if r["msg_type"] == 3][0], [r for r in records if r["msg_type"] == 2][0]
    goods_image = await live.db.fetchval("SELECT image FROM goods WHERE id = 5")
    assert goods_image and card["goods"]["image"] == goods_image
    assert image["msg"] == base_uri
    assert {r["from_avatar"] for r in records} == {"uploads/demo/user.png", "uploads/demo/kefu_2.png"}
    users = (await call(live, "GET", "/kefuapi/chat/user", token))["data"]["list"]
    assert [u["avatar"] for u in users if u["user_id"] == 7] == ["uploads/demo/user.png"]

async def test_upload_refuses_what_is_not_an_image(live):
    token = await live.kefu_token(2)
    script = await upload(live, token, image_form(b"<script>alert(1)</script>", "x.png"))
    assert script == {"code": 0, "show": 1, "msg": "只允许上传 jpg、png、gif、webp 图片", "data": []}
    missing = await upload(live, token, image_form(_png((1, 1, 1)), field="image"))
    assert missing["code"] == 0 and missing["msg"] == "请选择文件"
    not_multipart = await call(live, "POST", "/kefuapi/file/formImage", token, data={"file": "x"})
    assert not_multipart["code"] == 0 and not_multipart["msg"] == "请使用 multipart/form-data 上传文件"
    assert await live.db.fetchval("SELECT count(*) FROM file") == 0
