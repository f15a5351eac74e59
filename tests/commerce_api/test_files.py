"""Image uploads of the commerce API (buyer /api/file/formimage, back-office /shopapi and
/adminapi) through real multipart requests, and the files served back under /uploads/."""
from __future__ import annotations

import asyncio
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from shared.settings import Settings
from shared.timefmt import zone
from shared.tokens import new_token
from tests.shared.test_uploads import IMAGES, NOT_IMAGES, gif_1x1, jpg_1x1, png_1x1

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
NOT_AN_IMAGE = "只允许上传 jpg、png、gif、webp 图片"


# -------------------------------------------------------------------------------------- helpers

async def buyer_token(db, user_id: int = 1, *, client: int = 6, lifetime: int = 3600) -> str:
    token = new_token()
    await db.execute("INSERT INTO session (user_id, token, client, expire_time) "
                     "VALUES ($1, $2, $3, now() + make_interval(secs => $4))", user_id, token, client, lifetime)
    return token


async def admin_token(db, admin_type: str, admin_id: int, shop_id: int) -> str:
    token = new_token()
    await db.execute("INSERT INTO admin_session (admin_type, admin_id, shop_id, token, client, expire_time) "
                     "VALUES ($1, $2, $3, $4, 5, now() + interval '1 hour')", admin_type, admin_id, shop_id, token)
    return token


def form(data: bytes, filename: str = "photo.png", content_type: str = "image/png",
         field: str = "file") -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("cid", "0")
    body.add_field(field, data, filename=filename, content_type=content_type)
    return body


async def upload(client, token: str | None, body, path: str = "/api/file/formimage") -> dict:
    resp = await client.post(path, data=body, headers={"token": token} if token else {})
    assert resp.status == 200
    return await resp.json()


def today_candidates(settings: Settings) -> set[str]:
    now = datetime.now(zone(settings.time_zone))
    return {f"{now - timedelta(minutes=1):%Y%m%d}", f"{now:%Y%m%d}"}


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.upload_dir.rglob("*") if p.is_file()] if settings.upload_dir.exists() else []


async def file_count(db) -> int:
    return await db.fetchval("SELECT count(*) FROM file")


# ------------------------------------------------------------------------------------ accepting

@pytest.mark.parametrize("ext", sorted(IMAGES))
async def test_buyer_uploads_each_format_stored_recorded_and_served(commerce, db, settings, ext):
    token = await buyer_token(db, 3)
    data = IMAGES[ext]()
    body = await upload(commerce, token, form(data, filename=f"我的图片.{ext}", content_type=CONTENT_TYPES[ext]))

    assert body["code"] == 1 and body["msg"] == "上传成功", body
    payload = body["data"]
    assert set(payload) == {"id", "cid", "type", "name", "shop_id", "uri", "base_uri"}
    base_uri = payload["base_uri"]
    match = re.fullmatch(rf"uploads/user/3/(\d{{8}})/[0-9a-f]{{32}}\.{ext}", base_uri)
    assert match and match.group(1) in today_candidates(settings), base_uri
    assert payload["uri"] == settings.public_base_url + base_uri
    assert (payload["cid"], payload["type"], payload["name"], payload["shop_id"]) == (0, 10, f"我的图片.{ext}", 0)

    path = settings.upload_dir / base_uri.removeprefix("uploads/")
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o644

    row = await db.fetchrow("SELECT * FROM file WHERE id = $1", payload["id"])
    assert (row["uri"], row["uploader_type"], row["uploader_id"], row["shop_id"], row["size"], row["type"],
            row["name"]) == (base_uri, "user", 3, 0, len(data), 10, f"我的图片.{ext}")

    served = await commerce.get("/" + base_uri)
    assert served.status == 200
    assert await served.read() == data
    assert served.headers["Content-Type"] == CONTENT_TYPES[ext]
    assert "max-age=" in served.headers["Cache-Control"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"


async def test_extension_follows_the_content_not_the_name(commerce, db, settings):
    token = await buyer_token(db)
    body = await upload(commerce, token, form(png_1x1(), filename="really.jpg", content_type="image/jpeg"))
    assert body["code"] == 1, body
    assert body["data"]["base_uri"].endswith(".png")
    assert body["data"]["name"] == "really.jpg"


async def test_action_name_is_case_insensitive(commerce, db, settings):
    token = await buyer_token(db)
    body = await upload(commerce, token, form(gif_1x1(), filename="a.gif"), path="/api/file/formImage")
    assert body["code"] == 1, body
    assert (settings.upload_dir / body["data"]["base_uri"].removeprefix("uploads/")).read_bytes() == gif_1x1()


async def test_hostile_file_name_is_cleaned_and_never_reaches_the_path(commerce, db, settings):
    token = await buyer_token(db)
    hostile = "../../../../etc/<script>alert(1)</script>" + "x" * 200 + ".png"
    body = await upload(commerce, token, form(png_1x1(), filename=hostile))
    assert body["code"] == 1, body
    name = body["data"]["name"]
    assert len(name) == 100 and "<" not in name and "/" not in name and ".." not in name
    assert re.fullmatch(r"uploads/user/1/\d{8}/[0-9a-f]{32}\.png", body["data"]["base_uri"])
    assert await db.fetchval("SELECT name FROM file WHERE id = $1", body["data"]["id"]) == name


async def test_is_own_upload_after_a_real_upload(commerce, db):
    from shared.uploads import is_own_upload
    token = await buyer_token(db, 4)
    base_uri = (await upload(commerce, token, form(jpg_1x1(), filename="a.jpg")))["data"]["base_uri"]
    assert await is_own_upload(db, "user", 4, base_uri) is True
    assert await is_own_upload(db, "user", 5, base_uri) is False


async def test_merchant_admin_upload_goes_to_the_shop_folder(commerce, db, settings):
    token = await admin_token(db, "shop_admin", 1, 1)
    body = await upload(commerce, token, form(png_1x1(), filename="kefu.png"), path="/shopapi/file/formImage")
    assert body["code"] == 1, body
    assert re.fullmatch(r"uploads/shop/1/\d{8}/[0-9a-f]{32}\.png", body["data"]["base_uri"])
    assert body["data"]["shop_id"] == 1
    row = await db.fetchrow("SELECT uploader_type, uploader_id, shop_id FROM file WHERE id = $1", body["data"]["id"])
    assert tuple(row) == ("shop_admin", 1, 1)
    assert (settings.upload_dir / body["data"]["base_uri"].removeprefix("uploads/")).is_file()


async def test_platform_admin_upload_goes_to_the_platform_folder(commerce, db, settings):
    token = await admin_token(db, "admin", 1, 0)
    body = await upload(commerce, token, form(png_1x1(), filename="qr.png"), path="/adminapi/file/formimage")
    assert body["code"] == 1, body
    assert re.fullmatch(r"uploads/platform/0/\d{8}/[0-9a-f]{32}\.png", body["data"]["base_uri"])
    row = await db.fetchrow("SELECT uploader_type, uploader_id, shop_id FROM file WHERE id = $1", body["data"]["id"])
    assert tuple(row) == ("admin", 1, 0)


# ------------------------------------------------------------------------------------- refusing

@pytest.mark.parametrize("label", sorted(NOT_IMAGES))
async def test_non_images_are_refused_and_nothing_is_kept(commerce, db, settings, label):
    token = await buyer_token(db)
    before = await file_count(db)
    # the name and the declared type lie: only the bytes count
    body = await upload(commerce, token, form(NOT_IMAGES[label], filename="picture.png", content_type="image/png"))
    assert (body["code"], body["show"], body["msg"]) == (0, 1, NOT_AN_IMAGE), body
    assert await file_count(db) == before
    assert stored_files(settings) == []


@pytest.fixture
async def commerce_2k(aiohttp_client, settings_env):
    """A commerce API whose upload bound is 2 KiB."""
    from commerce_api.app import create_app
    settings = Settings.from_env({**settings_env, "UPLOAD_MAX_BYTES": "2048"})
    return await aiohttp_client(create_app(settings)), settings


@pytest.mark.parametrize("padding", [3000, 500_000])
async def test_too_large_is_refused_with_the_configured_limit(commerce_2k, db, padding):
    client, settings = commerce_2k
    token = await buyer_token(db)
    big_png = png_1x1() + b"\x00" * padding      # a real PNG header: only the size is wrong
    body = await upload(client, token, form(big_png))
    assert (body["code"], body["msg"]) == (0, "文件大小不能超过 2KB"), body
    assert await file_count(db) == 0
    assert stored_files(settings) == []
    # an image under the bound still goes through on the same server
    assert (await upload(client, token, form(png_1x1())))["code"] == 1


async def test_too_large_streamed_without_length_is_cut_off(commerce_2k, db):
    client, settings = commerce_2k
    token = await buyer_token(db)
    sent = 0

    async def endless_png():
        nonlocal sent
        yield png_1x1()
        for _ in range(2000):                    # up to ~128 MB if the server kept reading
            sent += 64 * 1024
            yield b"\x00" * (64 * 1024)

    body = aiohttp.FormData()
    body.add_field("file", endless_png(), filename="a.png", content_type="image/png")
    resp = await client.post("/api/file/formimage", data=body, headers={"token": token})
    reply = await resp.json()
    assert (reply["code"], reply["msg"]) == (0, "文件大小不能超过 2KB"), reply
    # The answer came long before the body could have been read whole (the rest is left in
    # socket buffers or drained to the void by aiohttp, never held).
    assert sent < 32 * 1024 * 1024
    assert stored_files(settings) == []


async def test_missing_file_field(commerce, db):
    token = await buyer_token(db)
    body = await upload(commerce, token, form(png_1x1(), field="image"))
    assert (body["code"], body["msg"]) == (0, "请选择文件")


@pytest.mark.parametrize("kwargs", [{"json": {"file": "uploads/x.png"}}, {"data": {"file": "x"}}])
async def test_not_multipart(commerce, db, kwargs):
    token = await buyer_token(db)
    resp = await commerce.post("/api/file/formimage", headers={"token": token}, **kwargs)
    body = await resp.json()
    assert (body["code"], body["msg"]) == (0, "请使用 multipart/form-data 上传文件")


async def test_no_token_or_a_bad_one_is_not_logged_in(commerce, db, settings):
    expired = await buyer_token(db, 2, lifetime=-60)
    shop_token = await admin_token(db, "shop_admin", 1, 1)
    cases = [(None, "/api/file/formimage"), ("nothex", "/api/file/formimage"), (new_token(), "/api/file/formimage"),
             (expired, "/api/file/formimage"), (shop_token, "/api/file/formimage"),
             (await buyer_token(db, 3), "/shopapi/file/formimage"), (shop_token, "/adminapi/file/formimage")]
    for token, path in cases:
        body = await upload(commerce, token, form(png_1x1()), path=path)
        assert body["code"] == -1, (token, path, body)
    assert await file_count(db) == 0
    assert stored_files(settings) == []


# -------------------------------------------------------------------------------------- serving

async def raw_get(client, target: str) -> tuple[int, bytes]:
    """GET with the request target sent exactly as written (client libraries normalise `..`)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_serving_refuses_traversal_symlinks_listings_and_non_images(commerce, db, settings):
    token = await buyer_token(db)
    base_uri = (await upload(commerce, token, form(png_1x1())))["data"]["base_uri"]
    root = settings.upload_dir
    secret = root.parent / "secret.png"
    secret.write_bytes(b"SECRET-BYTES")
    (root / "user" / "1" / "link.png").symlink_to(secret)
    (root / "user" / "1" / "evil.html").write_bytes(b"<script>alert(1)</script>")

    assert await raw_get(commerce, "/" + base_uri) == (200, png_1x1())
    for target in ("/uploads/../secret.png", "/uploads/%2e%2e/secret.png", "/uploads/..%2fsecret.png",
                   "/uploads/user/1/..%2f..%2f..%2fsecret.png", "/uploads/user/1/..%5c..%5c..%5csecret.png",
                   "/uploads/%2fetc%2fpasswd", "/uploads//etc/passwd", "/uploads/user/1/link.png",
                   "/uploads/user/1/evil.html", "/uploads/user/1/", "/uploads/user", "/uploads/",
                   "/uploads/user/1/" + "0" * 32 + ".png", "/uploads/user/1/%00.png"):
        status, body = await raw_get(commerce, target)
        assert status in (400, 404), (target, status)
        assert b"SECRET" not in body and b"<script>" not in body and base_uri.encode() not in body, target


async def test_demo_style_files_are_served(commerce, settings):
    (settings.upload_dir / "demo").mkdir(parents=True)
    (settings.upload_dir / "demo" / "goods_01.png").write_bytes(png_1x1())
    resp = await commerce.get("/uploads/demo/goods_01.png")
    assert resp.status == 200 and await resp.read() == png_1x1()
    assert resp.headers["Content-Type"] == "image/png"
    assert (await commerce.get("/uploads/demo/goods_02.png")).status == 404
