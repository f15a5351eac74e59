"""The buyer API of the mall (/api/*) that the chat's clients call (spec §5.3)."""
from aiohttp import web

from commerce_api.views import account, goods, order, shop, user


def setup_routes(app: web.Application) -> None:
    for module in (account, user, goods, shop, order):
        module.setup_routes(app)
