"""Image uploads of buyers (spec §5.2) and back-office admins, and the uploaded files served back
under /uploads/ (the `base_domain` + relative path the clients build)."""
from __future__ import annotations

from aiohttp import web

from commerce_api.auth import current_admin, current_user
from shared.service import POOL, SETTINGS
from shared.uploads import accept_image_upload, served_file
from shared.web import ok

UPLOADED = "上传成功"
# Stored names are random and never rewritten, so a week of caching is safe.
CACHE_CONTROL = "public, max-age=604800"


async def buyer_form_image(request: web.Request) -> web.Response:
    """POST /api/file/formimage: stored under uploads/user/<user_id>/<YYYYMMDD>/."""
    user = await current_user(request)
    payload = await accept_image_upload(request, request.app[POOL], request.app[SETTINGS],
                                        uploader_type="user", uploader_id=user["id"], shop_id=0)
    return ok(payload, UPLOADED)


async def shop_form_image(request: web.Request) -> web.Response:
    """POST /shopapi/file/formimage: a merchant admin's image, under uploads/shop/<shop_id>/."""
    admin = await current_admin(request, "shop_admin")
    payload = await accept_image_upload(request, request.app[POOL], request.app[SETTINGS],
                                        uploader_type="shop_admin", uploader_id=admin["id"],
                                        shop_id=admin["shop_id"])
    return ok(payload, UPLOADED)


async def platform_form_image(request: web.Request) -> web.Response:
    """POST /adminapi/file/formimage: a platform admin's image, under uploads/platform/0/."""
    admin = await current_admin(request, "admin")
    payload = await accept_image_upload(request, request.app[POOL], request.app[SETTINGS],
                                        uploader_type="admin", uploader_id=admin["id"], shop_id=0)
    return ok(payload, UPLOADED)


async def uploaded_file(request: web.Request) -> web.StreamResponse:
    """GET /uploads/{path}: an image file under UPLOAD_DIR, or 404 (never a listing)."""
    found = served_file(request.app[SETTINGS].upload_dir, request.match_info["path"])
    if found is None:
        raise web.HTTPNotFound()
    path, content_type = found
    return web.FileResponse(path, headers={
        "Content-Type": content_type, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"})


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/file/formimage", buyer_form_image)
    app.router.add_post("/shopapi/file/formimage", shop_form_image)
    app.router.add_post("/adminapi/file/formimage", platform_form_image)
    app.router.add_get("/uploads/{path:.+}", uploaded_file)
