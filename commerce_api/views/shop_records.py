"""What the back-office views of a shop's own records (kefu accounts, quick replies) have in common:
rows answered with their times formatted, and the detail and delete views, which differ only in
the id input, the data function and the not-found message.

Every data function here takes (pool, shop_id, record_id): an id of another shop is not found.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web
from marshmallow import Schema

from commerce_api.auth import current_admin
from commerce_api.views.admin_family import FamilyView
from commerce_api.views.backoffice_inputs import with_times
from shared.service import POOL, SETTINGS
from shared.web import ApiError, ok, paged, parse

GetRow = Callable[[Any, int, int], Awaitable[dict[str, Any] | None]]
DeleteRow = Callable[[Any, int, int], Awaitable[bool]]


def formatted(request: web.Request, row: dict[str, Any]) -> dict[str, Any]:
    return with_times(row, request.app[SETTINGS].time_zone)


def row_answer(request: web.Request, row: dict[str, Any] | None, not_found: str, msg: str = "") -> web.Response:
    """The row, or `not_found` as a business error when there is none."""
    if row is None:
        raise ApiError(not_found)
    return ok(formatted(request, row), msg=msg)


def page_answer(request: web.Request, rows: list[dict[str, Any]], count: int, page_no: int,
                page_size: int) -> web.Response:
    return ok(paged([formatted(request, row) for row in rows], count, page_no, page_size))


def detail_view(id_input: Schema, get_row: GetRow, not_found: str) -> FamilyView:
    async def detail(request: web.Request, admin_type: str) -> web.Response:
        admin = await current_admin(request, admin_type)
        args = await parse(request, id_input)
        return row_answer(request, await get_row(request.app[POOL], admin["shop_id"], args["id"]), not_found)
    return detail


def delete_view(id_input: Schema, delete_row: DeleteRow, not_found: str) -> FamilyView:
    async def delete(request: web.Request, admin_type: str) -> web.Response:
        admin = await current_admin(request, admin_type)
        args = await parse(request, id_input)
        if not await delete_row(request.app[POOL], admin["shop_id"], args["id"]):
            raise ApiError(not_found)
        return ok(msg="删除成功")
    return delete
