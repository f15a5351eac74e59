"""Every path of the chat server. Paths are lower case: matching is case-insensitive."""
from __future__ import annotations

from aiohttp import web

from chat_server.views import chatapi, kefuapi, pages, ws


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
    # the browser pages (chat_server/static/): console, widget, demos and their shared modules
    app.router.add_get("/kefu", pages.console_without_slash)
    app.router.add_get("/kefu/", pages.console)
    app.router.add_get("/kefu/{name}", pages.kefu_file)
    app.router.add_get("/widget.js", pages.widget_loader)
    app.router.add_get("/widget/", pages.widget)
    app.router.add_get("/widget/status", pages.widget_status)
    app.router.add_get("/widget/{name}", pages.widget_file)
    app.router.add_get("/common/{name}", pages.common_file)
