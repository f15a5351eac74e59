"""Quick replies (`kefu_lang`) of the caller's shop: /shopapi/kefuLang/*, /adminapi/kefuLang/* for
shop 0. Titles and contents are each unique within a shop."""
from __future__ import annotations

from aiohttp import web

from commerce_api.auth import current_admin
from commerce_api.data import kefu_lang
from commerce_api.views.admin_family import add_family_routes
from commerce_api.views.backoffice_inputs import id_field, sort_field, text_field
from commerce_api.views.shop_records import delete_view, detail_view, formatted, page_answer, row_answer
from shared.service import POOL
from shared.web import ApiError, Input, load, ok, page_args, parse, read_params

NOT_FOUND = "快捷回复不存在"
DUPLICATE = {"title": "标题已存在", "content": "内容已存在"}
TITLE_MAX, CONTENT_MAX = 64, 1000   # the table's CHECKs


class ListInput(Input):
    keyword = text_field("关键词", 64, load_default="")


class ReplyIdInput(Input):
    id = id_field("快捷回复")


class AddInput(Input):
    title = text_field("标题", TITLE_MAX, required=True)
    content = text_field("内容", CONTENT_MAX, required=True)
    sort = sort_field(load_default=1)


class EditInput(Input):
    id = id_field("快捷回复")
    title = text_field("标题", TITLE_MAX, allow_blank=False)
    content = text_field("内容", CONTENT_MAX, allow_blank=False)
    sort = sort_field()


_list_input, _id_input, _add_input, _edit_input = ListInput(), ReplyIdInput(), AddInput(), EditInput()


async def lists(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    params = await read_params(request)
    args = load(_list_input, params)
    page_no, page_size = page_args(params)
    rows, count = await kefu_lang.list_quick_replies(request.app[POOL], admin["shop_id"], args["keyword"],
                                                     (page_no - 1) * page_size, page_size)
    return page_answer(request, rows, count, page_no, page_size)


detail = detail_view(_id_input, kefu_lang.get_quick_reply, NOT_FOUND)


async def add(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    args = await parse(request, _add_input)
    try:
        row = await kefu_lang.add_quick_reply(request.app[POOL], admin["shop_id"], args["title"], args["content"],
                                              args["sort"])
    except kefu_lang.DuplicateQuickReply as exc:
        raise ApiError(DUPLICATE[exc.field]) from None
    return ok(formatted(request, row), msg="添加成功")


async def edit(request: web.Request, admin_type: str) -> web.Response:
    admin = await current_admin(request, admin_type)
    args = await parse(request, _edit_input)
    changes = {k: args[k] for k in ("title", "content", "sort") if k in args}
    try:
        row = await kefu_lang.update_quick_reply(request.app[POOL], admin["shop_id"], args["id"], **changes)
    except kefu_lang.DuplicateQuickReply as exc:
        raise ApiError(DUPLICATE[exc.field]) from None
    return row_answer(request, row, NOT_FOUND, msg="编辑成功")


delete = delete_view(_id_input, kefu_lang.delete_quick_reply, NOT_FOUND)


def setup_routes(app: web.Application) -> None:
    add_family_routes(app, [
        ("GET", "/kefuLang/lists", lists),
        ("GET", "/kefuLang/detail", detail),
        ("POST", "/kefuLang/add", add),
        ("POST", "/kefuLang/edit", edit),
        ("POST", "/kefuLang/del", delete),
    ])
