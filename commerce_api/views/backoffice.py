"""The back office (/shopapi/* for merchants, /adminapi/* for the platform) and the customer-service
configuration family, including its buyer-facing reads."""
from aiohttp import web

from commerce_api.views import admin_account, cs_config, kefu_admin, kefu_lang_admin


def setup_routes(app: web.Application) -> None:
    admin_account.setup_routes(app)
    kefu_admin.setup_routes(app)
    kefu_lang_admin.setup_routes(app)
    cs_config.setup_routes(app)
