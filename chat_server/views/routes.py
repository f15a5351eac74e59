"""Every path of the chat server. Paths are lower case: matching is case-insensitive."""
from __future__ import annotations

from aiohttp import web

from chat_server.views import chatapi, kefuapi, ws


def setup(app: web.Application) -> None:
    app.router.add_get("/", ws.websocket)
    app.router.add_get("/ws", ws.websocket)
    # the kefu console (spec §5.1)
    app.router.add_post("/kefuapi/account/login", kefuapi.login)
    app.router.add_post("/kefuapi/account/logout", kefuapi.logout)
    app.router.add_get("/kefuapi/chat/user", kefuapi.user_list)
    app.router.add_get("/kefuapi/chat/record", kefuapi.record)
    app.router.add_get("/kefuapi/chat/online", kefuapi.online_kefu)
    app.router.add_get("/kefuapi/chat/reply", kefuapi.reply)
    app.router.add_get("/kefuapi/chat/userinfo", kefuapi.user_info)
    app.router.add_get("/kefuapi/chat/order", kefuapi.orders)
    app.router.add_get("/kefuapi/chat/kefuinfo", kefuapi.kefu_info)
    app.router.add_get("/kefuapi/chat/config", kefuapi.config)
    app.router.add_post("/kefuapi/file/formimage", kefuapi.form_image)
    # the buyer chat page (spec §5.2)
    app.router.add_get("/api/user/chatrecord", chatapi.chat_record)
    app.router.add_get("/api/index/chatconfig", chatapi.chat_switch)
