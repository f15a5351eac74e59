"""The browser pages the chat server serves from chat_server/static/ (plain files, no build step):
the kefu console (/kefu/), the buyer chat widget (/widget/ and its loader /widget.js), the demo
pages, and the modules they share (/common/). Plus the one thing only the widget needs that the
likeshop API does not say: whether any kefu of a shop is online right now.

Files are answered from a fixed folder by a whitelisted extension, never a listing and never a
path outside it. Names are not versioned, so every file is revalidated (no-cache + ETag /
Last-Modified → 304). The HTML pages carry a Content-Security-Policy that allows only this
server's scripts: even a rendering bug could not run a buyer's markup.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from chat_server.data import principals
from chat_server.keys import PRESENCE
from chat_server.views.inputs import ShopInput
from shared.service import POOL, SETTINGS
from shared.web import ApiError, ok, parse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*(\.[a-z0-9]+)+$")

_shop_input = ShopInput()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _security_headers(request: web.Request) -> dict[str, str]:
    """For HTML: scripts and styles from this server only; the WebSocket and the commerce API
    (uploads, the demo logins) are the only other places the pages talk to. Images may come from
    anywhere (buyers' avatars are often third-party URLs). No frame-ancestors: merchants embed
    the console and the widget in their own sites and apps."""
    settings = request.app[SETTINGS]
    connect = " ".join(dict.fromkeys(["'self'", _origin(settings.public_ws_url), _origin(settings.public_base_url)]))
    csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; "
           f"connect-src {connect}; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")
    return {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer"}


def _file(request: web.Request, folder: str, name: str) -> web.FileResponse:
    """static/<folder>/<name>, or 404."""
    suffix = Path(name).suffix
    if not FILE_NAME.match(name) or suffix not in CONTENT_TYPES:
        raise web.HTTPNotFound()
    path = STATIC_DIR / folder / name
    if not path.is_file():
        raise web.HTTPNotFound()
    headers = {"Content-Type": CONTENT_TYPES[suffix], "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff"}
    if suffix == ".html":
        headers.update(_security_headers(request))
    return web.FileResponse(path, headers=headers)


async def console(request: web.Request) -> web.StreamResponse:
    """GET /kefu/: the kefu console (also reached with ?token= from "log in as kefu")."""
    return _file(request, "kefu", "index.html")


async def console_without_slash(request: web.Request) -> web.StreamResponse:
    """GET /kefu: the console's relative asset paths need the trailing slash; the query is kept."""
    query = request.rel_url.query_string
    raise web.HTTPFound("/kefu/" + (f"?{query}" if query else ""))


async def kefu_file(request: web.Request) -> web.StreamResponse:
    return _file(request, "kefu", request.match_info["name"])


async def widget(request: web.Request) -> web.StreamResponse:
    """GET /widget/?shop_id=&token=: the buyer chat, as the loader's iframe or a page of its own."""
    return _file(request, "widget", "index.html")


async def widget_file(request: web.Request) -> web.StreamResponse:
    return _file(request, "widget", request.match_info["name"])


async def common_file(request: web.Request) -> web.StreamResponse:
    return _file(request, "common", request.match_info["name"])


async def widget_loader(request: web.Request) -> web.StreamResponse:
    """GET /widget.js: the one script tag a shop page adds (launcher button + chat iframe)."""
    return _file(request, "widget", "loader.js")


async def widget_status(request: web.Request) -> web.Response:
    """GET /widget/status?shop_id= (no login): {"kefu_online": 0|1}. /api/index/chatConfig answers
    code 1 whenever the shop has a usable kefu, online or not (messages wait for them), so the
    widget asks here whether to say that the answer may take a while."""
    args = await parse(request, _shop_input)
    pool = request.app[POOL]
    if not await principals.shop_exists(pool, args["shop_id"]):
        raise ApiError("店铺不存在")
    online = await request.app[PRESENCE].online_kefu(args["shop_id"])
    usable = {row["id"] for row in await principals.usable_kefu_of_shop(pool, args["shop_id"])}
    return ok({"kefu_online": 1 if usable.intersection(online) else 0})
