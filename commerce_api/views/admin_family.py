"""The two back-office families: /shopapi/* for merchant admins (`shop_admin`, acting on their own
shop) and /adminapi/* for platform admins (`admin`, acting on shop 0). One set of view functions
serves both; each takes the request and the admin type of the family it is mounted under."""
from __future__ import annotations

from typing import Awaitable, Callable, Iterable

from aiohttp import web

FamilyView = Callable[[web.Request, str], Awaitable[web.StreamResponse]]

FAMILIES = {"shop_admin": "/shopapi", "admin": "/adminapi"}


def bind(view: FamilyView, admin_type: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await view(request, admin_type)
    handler.__name__ = handler.__qualname__ = f"{view.__name__}[{admin_type}]"
    return handler


def add_family_routes(app: web.Application, routes: Iterable[tuple[str, str, FamilyView]]) -> None:
    """Mount each (method, path, view) under both families; paths are lower case."""
    routes = list(routes)
    for admin_type, prefix in FAMILIES.items():
        for method, path, view in routes:
            app.router.add_route(method, prefix + path.lower(), bind(view, admin_type))
