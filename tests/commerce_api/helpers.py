"""Helpers of the back-office tests: calling an endpoint and logging in as a demo admin."""
from __future__ import annotations

import re

SHOP_PASSWORD = "shop123456"
ADMIN_PASSWORD = "admin123456"
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


async def call(client, method, path, token=None, **kwargs):
    """The JSON envelope of one request (always HTTP 200)."""
    headers = {"token": token} if token else {}
    resp = await client.request(method, path, headers=headers, **kwargs)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def login(commerce, prefix="/shopapi", account="shop1", password=None, **extra):
    """A back-office token; the demo password of the family unless another is given."""
    if password is None:
        password = ADMIN_PASSWORD if prefix == "/adminapi" else SHOP_PASSWORD
    body = await call(commerce, "POST", f"{prefix}/account/login",
                      json={"account": account, "password": password, **extra})
    assert body["code"] == 1, body
    return body["data"]["token"]
