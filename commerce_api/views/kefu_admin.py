"""The kefu accounts of the caller's shop (/shopapi/kefu/*, /adminapi/kefu/* for shop 0): list,
detail, add, edit, enable/disable, delete, and "log in as this kefu" for embedding the console.

Ids always go through the caller's shop: a kefu of another shop answers "客服不存在".
"""
from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from commerce_api.auth import current_admin
from commerce_api.data import admins, kefu, kefu_sessions
from commerce_api.views.admin_family import add_family_routes
from commerce_api.views.backoffice_inputs import flag_field, id_field, sort_field, text_field, upload_path_field
from commerce_api.views.shop_records import delete_view, detail_view, formatted, page_answer, row_answer
from shared.service import POOL, SETTINGS
from shared.web import ApiError, Input, ok, page_args, parse, read_params

NOT_FOUND = "客服不存在"
NICKNAME_MAX = 32


class KefuIdInput(Input):
    id = id_field("客服")


class AddKefuInput(Input):
    admin_id = id_field("管理员")
    nickname = text_field("客服昵称", NICKNAME_MAX, required=True)
    avatar = upload_path_field("头像", load_default="")
    sort = sort_field(load_default=1)
    disable = flag_field("禁用状态", load_default=0)


class EditKefuInput(Input):
    id = id_field("客服")
    nickname = text_field("客服昵称", NICKNAME_MAX, allow_blank=False)
    avatar = upload_path_field("头像")
    sort = sort_field()
    disable = flag_field("禁用状态")


class KefuStatusInput(Input):
    id = id_field("客服")
    disable = flag_field("禁用状态", required=True)


_id_input, _add_input, _edit_input, _status_input = KefuIdInput(), AddKefuInput(), EditKefuInput(), KefuStatusInput()


async def lists(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    page_no, page_size = page_args(await read_params(request))
    rows, count = await kefu.list_kefu(request.app[POOL], admin["shop_id"], (page_no - 1) * page_size, page_size)
    return page_answer(request, rows, count, page_no, page_size)


detail = detail_view(_id_input, kefu.get_kefu, NOT_FOUND)


async def add(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    args = await parse(request, _add_input)
    pool, shop_id = request.app[POOL], admin["shop_id"]
    account = await admins.bindable_admin(pool, shop_id, args["admin_id"])
    if account is None:
        raise ApiError("管理员不存在")
    if account["disable"]:
        raise ApiError("该管理员已禁用")
    try:
        row = await kefu.add_kefu(pool, shop_id, args["admin_id"], args["nickname"], args["avatar"],
                                  args["sort"], args["disable"])
    except kefu.AdminAlreadyBound:
        raise ApiError("该管理员已绑定客服") from None
    return ok(formatted(request, row), msg="添加成功")


async def edit(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    args = await parse(request, _edit_input)
    changes = {k: args[k] for k in ("nickname", "avatar", "sort", "disable") if k in args}
    row = await kefu.update_kefu(request.app[POOL], admin["shop_id"], args["id"], **changes)
    return row_answer(request, row, NOT_FOUND, msg="编辑成功")


async def status(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    args = await parse(request, _status_input)
    row = await kefu.update_kefu(request.app[POOL], admin["shop_id"], args["id"], disable=args["disable"])
    return row_answer(request, row, NOT_FOUND, msg="设置成功")


delete = delete_view(_id_input, kefu.delete_kefu, NOT_FOUND)


async def login_as(request: web.Request, admin_type: str) -> web.Response:
    """A kefu token for one of my shop's kefu, and the console URL that opens with it."""
    admin = await current_admin(request, admin_type)
    args = await parse(request, _id_input)
    pool, settings, shop_id = request.app[POOL], request.app[SETTINGS], admin["shop_id"]
    row = await kefu.get_kefu(pool, shop_id, args["id"])
    if row is None:
        raise ApiError(NOT_FOUND)
    if row["disable"]:
        raise ApiError("该客服已禁用")
    if row["admin_disable"]:
        raise ApiError("该客服绑定的管理员已禁用")
    token = await kefu_sessions.open_kefu_session(pool, shop_id, row["id"], settings.kefu_token_ttl)
    if token is None:   # disabled or deleted since the read above
        raise ApiError("该客服已禁用")
    query = urlencode({"token": token, "shop_id": shop_id})
    return ok({"token": token,
               "kefu": {"id": row["id"], "shop_id": shop_id, "nickname": row["nickname"], "avatar": row["avatar"]},
               "url": f"{settings.public_chat_url}/kefu/?{query}",
               "ws_url": settings.public_ws_url}, msg="登录成功")


def setup_routes(app: web.Application) -> None:
    add_family_routes(app, [
        ("GET", "/kefu/lists", lists),
        ("GET", "/kefu/detail", detail),
        ("POST", "/kefu/add", add),
        ("POST", "/kefu/edit", edit),
        ("POST", "/kefu/status", status),
        ("POST", "/kefu/del", delete),
        ("POST", "/kefu/login", login_as),
    ])
