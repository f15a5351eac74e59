"""shared.uploads: content sniffing, the bounded multipart read, storage, the `file` table and the
payload, each on its own (the HTTP endpoints are tested in tests/commerce_api/test_files.py)."""
from __future__ import annotations

import base64
import os
import re
import stat
import struct
import zlib
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from shared import uploads
from shared.settings import Settings


# ------------------------------------------------------------------ tiny real images, built here

def png_1x1() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)            # 1x1, 8-bit RGB
    idat = zlib.compress(b"\x00\xff\x00\x00")                        # filter 0, one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpg_1x1() -> bytes:
    """Baseline grey 1x1 JPEG: one-code Huffman tables, DC difference 0 then end-of-block."""
    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"                      # one code of length 1: symbol 0
    return (b"\xff\xd8" + segment(0xDB, b"\x00" + b"\x01" * 64)
            + segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
            + segment(0xC4, b"\x00" + one_code) + segment(0xC4, b"\x10" + one_code)
            + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x3f" + b"\xff\xd9")


def gif_1x1() -> bytes:
    return bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def webp_1x1() -> bytes:
    # lossless 1x1 (the one browsers' feature tests decode)
    return base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")


def webp_lossy_1x1() -> bytes:
    return base64.b64decode("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")


IMAGES = {"png": png_1x1, "jpg": jpg_1x1, "gif": gif_1x1, "webp": webp_1x1}

NOT_IMAGES = {
    "empty": b"",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>',
    "html": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "text": b"just some text pretending to be a picture",
    "png signature alone": b"\x89PNG\r\n\x1a\n",
    "png signature then html": b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
    "jpg magic alone": b"\xff\xd8\xff",
    "jpg magic, segment cut short": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "gif magic alone": b"GIF89a",
    "gif of zero width": b"GIF89a\x00\x00\x01\x00\x80\x00\x00;",
    "riff but not webp": b"RIFF\x1a\x00\x00\x00WAVEfmt " + b"\x00" * 20,
    "webp with a size beyond the data": b"RIFF\xff\xff\x00\x00WEBPVP8L" + b"\x00" * 10,
    "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    "bmp": b"BM" + b"\x00" * 60,
}


# ------------------------------------------------------------------------------------- sniffing

@pytest.mark.parametrize("ext", sorted(IMAGES))
def test_each_format_is_recognised_by_its_bytes(ext):
    assert uploads.image_extension(IMAGES[ext]()) == ext


def test_lossy_webp_is_recognised():
    assert uploads.image_extension(webp_lossy_1x1()) == "webp"


@pytest.mark.parametrize("label", sorted(NOT_IMAGES))
def test_anything_else_is_refused(label):
    assert uploads.image_extension(NOT_IMAGES[label]) is None


def test_trailing_bytes_after_an_image_do_not_change_its_format():
    assert uploads.image_extension(png_1x1() + b"\x00" * 100) == "png"


@pytest.mark.parametrize("limit, text", [(5 * 1024 * 1024, "5MB"), (2048, "2KB"), (1500, "1500B")])
def test_limit_message_follows_the_setting(limit, text):
    assert uploads.too_large(limit).msg == f"文件大小不能超过 {text}"


# -------------------------------------------------------------------------------------- reading

BOUNDARY = "kefuTestBoundary"


def multipart_body(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def request_with_body(body: bytes, *, content_length: bool = True,
                      content_type: str = f"multipart/form-data; boundary={BOUNDARY}") -> tuple[web.Request, StreamReader]:
    """A real aiohttp Request over a StreamReader we fill ourselves, so that the test can see how
    much of the body the reader consumed."""
    headers = CIMultiDict({"Content-Type": content_type})
    if content_length:
        headers["Content-Length"] = str(len(body))
    protocol = make_mocked_request("POST", "/", headers=headers).protocol
    payload = StreamReader(protocol, 2 ** 16, loop=protocol._loop)
    payload.feed_data(body)
    payload.feed_eof()
    return make_mocked_request("POST", "/api/file/formimage", headers=headers, payload=payload), payload


async def test_read_upload_returns_the_file_field_and_its_name():
    request, _ = request_with_body(multipart_body([("cid", None, b"0"), ("file", "头像.png", png_1x1())]))
    upload = await uploads.read_upload(request, 1024 * 1024)
    assert upload == uploads.Upload("头像.png", png_1x1())


async def test_read_upload_stops_right_after_the_bound():
    limit = 8 * 1024
    body = multipart_body([("file", "big.png", png_1x1() + os.urandom(4 * 1024 * 1024))])
    # No Content-Length (as with chunked uploads): only the bounded read can stop it.
    request, payload = request_with_body(body, content_length=False)
    with pytest.raises(uploads.ApiError) as caught:
        await uploads.read_upload(request, limit)
    assert caught.value.msg == "文件大小不能超过 8KB"
    left_unread = len(await payload.read())
    assert len(body) - left_unread <= limit + 2 * uploads.READ_CHUNK + 1024


async def test_read_upload_refuses_a_declared_oversize_body_without_reading_it():
    body = multipart_body([("file", "big.png", png_1x1() + b"\x00" * 200_000)])
    request, payload = request_with_body(body)
    with pytest.raises(uploads.ApiError) as caught:
        await uploads.read_upload(request, 4096)
    assert caught.value.msg == "文件大小不能超过 4KB"
    assert len(await payload.read()) == len(body)


async def test_other_fields_are_bounded_too():
    body = multipart_body([("junk", None, b"x" * (uploads.MULTIPART_OVERHEAD + 10)), ("file", "a.png", png_1x1())])
    request, _ = request_with_body(body, content_length=False)
    with pytest.raises(uploads.ApiError) as caught:
        await uploads.read_upload(request, 1024 * 1024)
    assert caught.value.msg == "文件大小不能超过 1MB"


@pytest.mark.parametrize("body, content_type, message", [
    (multipart_body([("image", "a.png", png_1x1())]), f"multipart/form-data; boundary={BOUNDARY}", "请选择文件"),
    (f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}", "请选择文件"),
    (b'{"file": "x"}', "application/json", "请使用 multipart/form-data 上传文件"),
    (b"file=x", "application/x-www-form-urlencoded", "请使用 multipart/form-data 上传文件"),
    (multipart_body([("file", "a.png", png_1x1())]), "multipart/form-data", "上传内容格式错误"),
    (b"no boundary anywhere", f"multipart/form-data; boundary={BOUNDARY}", "上传内容格式错误"),
])
async def test_read_upload_refusals(body, content_type, message):
    request, _ = request_with_body(body, content_type=content_type)
    with pytest.raises(uploads.ApiError) as caught:
        await uploads.read_upload(request, 1024 * 1024)
    assert caught.value.msg == message


# -------------------------------------------------------------------------------------- storing

@pytest.mark.parametrize("uploader_type, uploader_id, shop_id, folder", [
    ("user", 7, 0, ("user", 7)), ("kefu", 3, 1, ("kefu", 3)),
    ("shop_admin", 2, 1, ("shop", 1)), ("admin", 1, 0, ("platform", 0)),
])
def test_storage_folder_by_uploader(uploader_type, uploader_id, shop_id, folder):
    assert uploads.storage_folder(uploader_type, uploader_id, shop_id) == folder


def test_storage_folder_refuses_unknown_uploaders():
    with pytest.raises(ValueError):
        uploads.storage_folder("../../etc", 1, 0)


def test_new_relative_uri_shape_and_randomness():
    from datetime import datetime
    now = datetime(2024, 1, 2, 3, 4, 5)
    first, second = (uploads.new_relative_uri("user", 3, "png", now) for _ in range(2))
    assert re.fullmatch(r"uploads/user/3/20240102/[0-9a-f]{32}\.png", first)
    assert first != second
    with pytest.raises(ValueError):
        uploads.new_relative_uri("user", 3, "html", now)
    with pytest.raises(ValueError):
        uploads.new_relative_uri("../x", 3, "png", now)


async def test_store_image_writes_the_bytes_atomically_with_mode_0644(settings: Settings):
    data = png_1x1()
    uri = await uploads.store_image(settings, "user", 5, "png", data)
    path = settings.upload_dir.joinpath(*uri.removeprefix("uploads/").split("/"))
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    # nothing but the file itself is left in its folder (the temporary file was renamed)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


@pytest.mark.parametrize("given, expected", [
    ("photo.png", "photo.png"),
    ("C:\\Users\\me\\Pictures\\cat.jpg", "cat.jpg"),
    ("../../etc/passwd", "passwd"),
    ("%E6%88%91%E7%9A%84.png", "我的.png"),
    ("..%2F..%2Fetc%2Fx.png", "x.png"),
    ("100%.png", "100%.png"),
    ('<img src=x onerror="alert(1)">.png', "img src=x onerror=alert(1).png"),
    ("a\x00b\r\nc\u202e.png", "abc.png"),
    ("", "image.png"),
    ("   ", "image.png"),
    ("长" * 150 + ".png", "长" * 100),
])
def test_clean_file_name(given, expected):
    assert uploads.clean_file_name(given, "png") == expected


# ------------------------------------------------------------------------------------ recording

async def test_record_and_is_own_upload(db, settings: Settings):
    uri = "uploads/user/1/20240101/" + "a" * 32 + ".png"
    row = await uploads.record_upload(db, name="a.png", uri=uri, uploader_type="user", uploader_id=1,
                                      shop_id=0, size=67)
    stored = await db.fetchrow("SELECT * FROM file WHERE id = $1", row["id"])
    assert (stored["name"], stored["uri"], stored["uploader_type"], stored["uploader_id"], stored["size"],
            stored["type"], stored["cid"], stored["shop_id"], stored["del"]) == ("a.png", uri, "user", 1, 67, 10, 0, 0, 0)

    assert await uploads.is_own_upload(db, "user", 1, uri) is True
    assert await uploads.is_own_upload(db, "user", 2, uri) is False        # another buyer
    assert await uploads.is_own_upload(db, "kefu", 1, uri) is False        # same id, other kind
    assert await uploads.is_own_upload(db, "user", 1, uri.replace("a" * 32, "b" * 32)) is False
    assert await uploads.is_own_upload(db, "user", 1, settings.public_base_url + uri) is False
    await db.execute("UPDATE file SET del = 1 WHERE id = $1", row["id"])
    assert await uploads.is_own_upload(db, "user", 1, uri) is False        # deleted


async def test_payload_has_the_likeshop_fields(db, settings: Settings):
    uri = "uploads/kefu/2/20240101/" + "c" * 32 + ".gif"
    row = await uploads.record_upload(db, name="c.gif", uri=uri, uploader_type="kefu", uploader_id=2,
                                      shop_id=1, size=43)
    assert uploads.upload_payload(settings, row) == {
        "id": row["id"], "cid": 0, "type": 10, "name": "c.gif", "shop_id": 1,
        "uri": settings.public_base_url + uri, "base_uri": uri}
    assert uploads.upload_payload(settings, row)["uri"].startswith("http://127.0.0.1:")


# -------------------------------------------------------------------------------------- serving

def test_served_file_only_plain_image_paths_inside_the_folder(tmp_path: Path):
    root = tmp_path / "uploads"
    (root / "user" / "1").mkdir(parents=True)
    (root / "user" / "1" / "a.png").write_bytes(png_1x1())
    (root / "user" / "1" / "b.JPEG").write_bytes(jpg_1x1())
    (root / "user" / "1" / "page.html").write_bytes(b"<html>")
    (root / "user" / "1" / ".hidden.png").write_bytes(png_1x1())
    (tmp_path / "secret.png").write_bytes(b"secret")
    (root / "user" / "1" / "link.png").symlink_to(tmp_path / "secret.png")
    (root / "user" / "1" / "folder.png").mkdir()

    assert uploads.served_file(root, "user/1/a.png") == ((root / "user/1/a.png").resolve(), "image/png")
    assert uploads.served_file(root, "user/1/b.JPEG") == ((root / "user/1/b.JPEG").resolve(), "image/jpeg")
    for refused in ("user/1/page.html", "user/1/.hidden.png", "user/1/link.png", "user/1/folder.png",
                    "../secret.png", "user/../../secret.png", "user/1/..\\..\\..\\secret.png", "user//1/a.png",
                    "user/1/missing.png", "user/1", "user/./1/a.png", "user/1/a.png\x00.png"):
        assert uploads.served_file(root, refused) is None, refused
