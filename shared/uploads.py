"""Image uploads for both services (spec §5.1 `/kefuapi/file/formImage`, §5.2 `/api/file/formimage`):
read the multipart `file` field with a hard size bound, accept only real jpg/png/gif/webp content
(judged by its bytes, never by the file name or the client's content type), store it under a
random name, record it in table `file` and answer the likeshop payload.

This module owns every query on the `file` table, for both services: the chat server checks image
messages with `is_own_upload`.
"""
from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import asyncpg
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BodyPartReader

from shared.settings import Settings
from shared.timefmt import zone
from shared.urls import file_url
from shared.web import ApiError

FIELD = "file"
FILE_TYPE_IMAGE = 10
NOT_AN_IMAGE = "只允许上传 jpg、png、gif、webp 图片"
NO_FILE = "请选择文件"
NOT_MULTIPART = "请使用 multipart/form-data 上传文件"
BAD_MULTIPART = "上传内容格式错误"

# Content types of the extensions `image_extension` can return (and the only files served back).
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}

# The URI prefix that UPLOAD_DIR stands for: uploads/<kind>/<owner>/<YYYYMMDD>/<name>.<ext>
URI_PREFIX = "uploads/"

# Who uploads (file.uploader_type) → the storage folder kind; back-office admins store by shop.
FOLDER_KINDS = {"user": "user", "kefu": "kefu", "shop_admin": "shop", "admin": "platform"}

NAME_MAX_CHARS = 100
READ_CHUNK = 64 * 1024
# Besides the file itself a multipart body carries boundaries, part headers and small fields.
MULTIPART_OVERHEAD = 64 * 1024

_HEAD_BYTES = 32
_NAME_UNSAFE = re.compile(r'[<>:"|?*]')


@dataclass(frozen=True)
class Upload:
    """An upload read from a request: the client's file name (unsanitised) and the bytes."""
    filename: str
    data: bytes


# -------------------------------------------------------------------------------------- sniffing

def image_extension(data: bytes) -> str | None:
    """"jpg", "png", "gif" or "webp" when `data` starts like a well-formed image of that format
    (magic bytes plus the first structure behind them), else None."""
    head, size = data[:_HEAD_BYTES], len(data)
    if head[:3] == b"\xff\xd8\xff":
        # SOI, then a complete first segment: a marker and its big-endian length (which counts
        # itself), followed by at least one more marker.
        if size < 6 or not 0xC0 <= head[3] <= 0xFE:
            return None
        segment = int.from_bytes(head[4:6], "big")
        return "jpg" if segment >= 2 and size >= 4 + segment + 2 else None
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        # The IHDR chunk must come first, 13 bytes long, with a non-zero width and height.
        if head[8:16] != b"\x00\x00\x00\x0dIHDR" or size < 33:
            return None
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return "png" if width and height else None
    if head[:6] in (b"GIF87a", b"GIF89a"):
        # Logical screen descriptor (little-endian width and height), then at least a trailer.
        if size < 14:
            return None
        width, height = int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
        return "gif" if width and height else None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        # The RIFF size covers everything after its own 8 bytes; the first chunk is a VP8 one.
        riff_size = int.from_bytes(head[4:8], "little")
        if head[12:16] not in (b"VP8 ", b"VP8L", b"VP8X") or size < 20 or not 12 <= riff_size <= size - 8:
            return None
        return "webp"
    return None


def size_text(limit: int) -> str:
    """A byte count as the limit message shows it: 5MB, 512KB or 1500B."""
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)}MB"
    if limit % 1024 == 0:
        return f"{limit // 1024}KB"
    return f"{limit}B"


def too_large(limit: int) -> ApiError:
    return ApiError(f"文件大小不能超过 {size_text(limit)}")


# --------------------------------------------------------------------------------------- reading

async def read_upload(request: web.Request, max_bytes: int) -> Upload:
    """The multipart field `file`, read in chunks; raises as soon as it passes `max_bytes`, so no
    more than that (plus a chunk or two of aiohttp's look-ahead) is ever read or held. Other fields before it are read to the void,
    within the same bound."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError(NOT_MULTIPART)
    if request.content_length is not None and request.content_length > max_bytes + MULTIPART_OVERHEAD:
        raise too_large(max_bytes)
    try:
        reader = await request.multipart()
        skipped = 0
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ApiError(BAD_MULTIPART)
            if part.name == FIELD:
                return Upload(part.filename or "", await _read_bounded(part, max_bytes))
            skipped += len(await _read_bounded(part, MULTIPART_OVERHEAD - skipped, max_bytes))
    except (ValueError, AssertionError, HttpProcessingError):
        # aiohttp's answers to a missing boundary or a malformed body
        raise ApiError(BAD_MULTIPART) from None
    raise ApiError(NO_FILE)


async def _read_bounded(part: BodyPartReader, limit: int, shown_limit: int | None = None) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK):
        data += chunk
        if len(data) > limit:
            raise too_large(limit if shown_limit is None else shown_limit)
    return bytes(data)


# --------------------------------------------------------------------------------------- storing

def storage_folder(uploader_type: str, uploader_id: int, shop_id: int) -> tuple[str, int]:
    """(kind, owner) of the folder an uploader's files go to: buyers and kefu by their own id,
    merchant admins by their shop, platform admins under platform/0."""
    kind = FOLDER_KINDS.get(uploader_type)
    if kind is None:
        raise ValueError(f"unknown uploader type {uploader_type!r}")
    owner = {"user": uploader_id, "kefu": uploader_id, "shop": shop_id, "platform": 0}[kind]
    if not isinstance(owner, int) or owner < 0:
        raise ValueError(f"owner id must be a non-negative int, got {owner!r}")
    return kind, owner


def new_relative_uri(kind: str, owner: int, ext: str, now: datetime) -> str:
    """uploads/<kind>/<owner>/<YYYYMMDD>/<32 random hex>.<ext>: nothing here comes from a client."""
    if kind not in FOLDER_KINDS.values() or ext not in CONTENT_TYPES:
        raise ValueError(f"bad folder kind {kind!r} or extension {ext!r}")
    return f"{URI_PREFIX}{kind}/{int(owner)}/{now:%Y%m%d}/{secrets.token_hex(16)}.{ext}"


def local_path(upload_dir: Path, uri: str) -> Path:
    """The file behind a relative uri made by `new_relative_uri`."""
    if not uri.startswith(URI_PREFIX):
        raise ValueError(f"not an upload uri: {uri!r}")
    return upload_dir.joinpath(*uri[len(URI_PREFIX):].split("/"))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file in the same folder, renamed into place: readers never see half a file.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


async def store_image(settings: Settings, kind: str, owner: int, ext: str, data: bytes) -> str:
    """Write an already checked image under UPLOAD_DIR; returns its relative uri."""
    uri = new_relative_uri(kind, owner, ext, datetime.now(zone(settings.time_zone)))
    await asyncio.to_thread(_write_atomically, local_path(settings.upload_dir, uri), data)
    return uri


def clean_file_name(filename: str, ext: str) -> str:
    """The client's file name as recorded: percent-escapes decoded (some clients, aiohttp's among
    them, send the name that way), last path component, no control or markup-ish characters, at
    most 100 characters; a stand-in when nothing is left."""
    name = re.split(r"[/\\]", unquote(filename))[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = " ".join(_NAME_UNSAFE.sub("", name).split())
    return name[:NAME_MAX_CHARS] or f"image.{ext}"


# ------------------------------------------------------------------------------------- recording

async def record_upload(db: asyncpg.Pool | asyncpg.Connection, *, name: str, uri: str, uploader_type: str,
                        uploader_id: int, shop_id: int, size: int) -> asyncpg.Record:
    """Insert the `file` row of a stored image; returns id, cid, type, name, shop_id, uri."""
    return await db.fetchrow(
        """INSERT INTO file (cid, type, name, uri, shop_id, uploader_type, uploader_id, size)
           VALUES (0, $1, $2, $3, $4, $5, $6, $7)
           RETURNING id, cid, type, name, shop_id, uri""",
        FILE_TYPE_IMAGE, name, uri, shop_id, uploader_type, uploader_id, size)


async def is_own_upload(db: asyncpg.Pool | asyncpg.Connection, uploader_type: str, uploader_id: int,
                        uri: str) -> bool:
    """Whether `uri` (a relative path as returned in `base_uri`) is a live upload of this principal."""
    return await db.fetchval(
        """SELECT EXISTS (SELECT 1 FROM file
                           WHERE uploader_type = $1 AND uploader_id = $2 AND uri = $3 AND del = 0)""",
        uploader_type, uploader_id, uri)


# -------------------------------------------------------------------------------------- answering

def upload_payload(settings: Settings, row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """The likeshop answer of an upload: {id, cid, type, name, shop_id, uri (absolute), base_uri}."""
    return {"id": row["id"], "cid": row["cid"], "type": row["type"], "name": row["name"],
            "shop_id": row["shop_id"], "uri": file_url(settings.public_base_url, row["uri"]), "base_uri": row["uri"]}


# ----------------------------------------------------------------------------------- the whole job

async def accept_image_upload(request: web.Request, db: asyncpg.Pool | asyncpg.Connection,
                              settings: Settings, *, uploader_type: str, uploader_id: int, shop_id: int) -> dict[str, Any]:
    """Read, check, store and record the image of an authenticated principal; returns the payload.
    uploader_type: 'user', 'kefu', 'shop_admin' or 'admin'. Call it after authenticating, so that
    nobody unknown makes the server read a body."""
    kind, owner = storage_folder(uploader_type, uploader_id, shop_id)
    upload = await read_upload(request, settings.upload_max_bytes)
    ext = image_extension(upload.data)
    if ext is None:
        raise ApiError(NOT_AN_IMAGE)
    uri = await store_image(settings, kind, owner, ext, upload.data)
    try:
        row = await record_upload(db, name=clean_file_name(upload.filename, ext), uri=uri,
                                  uploader_type=uploader_type, uploader_id=uploader_id, shop_id=shop_id,
                                  size=len(upload.data))
    except BaseException:
        # An unrecorded file could never be checked or cleaned up: remove it.
        local_path(settings.upload_dir, uri).unlink(missing_ok=True)
        raise
    return upload_payload(settings, row)


# -------------------------------------------------------------------------------------- serving

def served_file(upload_dir: Path, rest: str) -> tuple[Path, str] | None:
    """(file, content type) for GET /uploads/<rest>, or None: only plain segments (no empty, dot,
    hidden or backslash ones), only image extensions, only regular files that resolve inside
    UPLOAD_DIR (a symlink pointing out is refused)."""
    segments = rest.split("/")
    if any(not s or s.startswith(".") or "\\" in s or "\x00" in s for s in segments):
        return None
    ext = segments[-1].rsplit(".", 1)[-1].lower() if "." in segments[-1] else ""
    ext = "jpg" if ext == "jpeg" else ext
    if ext not in CONTENT_TYPES:
        return None
    root = upload_dir.resolve()
    try:
        path = root.joinpath(*segments).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path, CONTENT_TYPES[ext]
