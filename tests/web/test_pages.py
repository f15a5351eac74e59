"""How the chat server serves its pages (types, caching, security headers, no way out of the static
folder), the widget's presence probe, and the merchant embed demo in a browser."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.web.conftest import expect, screenshot

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_plain = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    try:
        with _plain.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


SERVED = [
    ("/kefu/", "text/html; charset=utf-8"),
    ("/kefu/embed-demo.html", "text/html; charset=utf-8"),
    ("/widget/", "text/html; charset=utf-8"),
    ("/widget/demo.html", "text/html; charset=utf-8"),
    ("/widget.js", "text/javascript; charset=utf-8"),
    ("/common/socket.js", "text/javascript; charset=utf-8"),
    ("/common/common.css", "text/css; charset=utf-8"),
    ("/common/favicon.svg", "image/svg+xml"),
]
NOT_SERVED = ["/kefu/nothing.html", "/common/..%2Fviews%2Fpages.py", "/kefu/%2e%2e%2fapp.py", "/common/README",
              "/common/socket.js.map", "/widget/.hidden.js", "/kefu/CONSOLE.JS"]


def test_pages_and_assets_are_served_with_their_type_and_revalidated(system):
    for path, content_type in SERVED:
        status, headers, body = fetch(system.chat_url + path)
        assert status == 200 and body, path
        assert headers["Content-Type"] == content_type, path
        assert headers["Cache-Control"] == "no-cache" and headers["X-Content-Type-Options"] == "nosniff", path
        again, _, _ = fetch(system.chat_url + path, {"If-None-Match": headers["Etag"]})
        assert again == 304, path
        if path.endswith(("/", ".html")):
            csp = headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "object-src 'none'" in csp, path
            assert system.commerce_url in csp and system.chat_url.replace("http", "ws", 1) in csp, path
            assert headers["Referrer-Policy"] == "no-referrer", path
    for path in NOT_SERVED:
        assert fetch(system.chat_url + path)[0] == 404, path


def test_a_browser_on_the_bare_address_goes_to_the_console(system):
    status, headers, _ = fetch(system.chat_url + "/")
    assert status == 302 and headers["Location"] == "/kefu/"
    status, headers, _ = fetch(system.chat_url + "/kefu?token=abc")
    assert status == 302 and headers["Location"] == "/kefu/?token=abc"
    status, _, body = fetch(system.chat_url + "/ws")   # the other WebSocket path still explains itself
    assert status == 200 and json.loads(body)["service"] == "kefu chat server"


def test_the_widget_learns_whether_an_agent_is_online(system, pages):
    def status(shop_id: int) -> dict:
        return json.loads(fetch(f"{system.chat_url}/widget/status?shop_id={shop_id}")[2])

    assert status(1) == {"code": 1, "show": 0, "msg": "", "data": {"kefu_online": 0}}
    pages.console(kefu_id=2)
    assert status(1)["data"] == {"kefu_online": 1}
    assert status(2)["data"] == {"kefu_online": 0}        # another shop's agents are not this shop's
    assert status(999)["code"] == 0 and status(999)["msg"] == "店铺不存在"


def test_a_merchant_app_embeds_the_console_with_log_in_as_kefu(system, pages):
    # a buyer who asked Demo客服B (kefu 3) while nobody was online: the conversation waits for that agent
    system.say(f"token={system.buyer_token(8)}&type=user&client=6&shop_id=1",
               [{"msg": "你好，我的订单什么时候发货？", "msg_type": 1, "to_id": 3, "to_type": "kefu"}],
               user_online={"kefu_id": 3})
    page = pages.new_page()
    page.goto(f"{system.chat_url}/kefu/embed-demo.html")
    page.locator("input[name=account]").fill("shop1b")
    page.locator("input[name=password]").fill("shop123456")
    page.locator("button[type=submit]").click()
    page.locator('.kefu-choice[data-kefu-id="3"]').click()
    console = page.frame_locator("iframe.embed-frame")
    expect(console.locator("#app")).to_have_attribute("data-connection", "open")
    expect(console.locator(".me-name")).to_have_text("Demo客服B")
    row = console.locator('.conv-item[data-user-id="8"]')
    expect(row.locator(".unread-badge")).to_have_text("1")
    row.click()
    expect(console.locator(".pane-messages .msg.theirs .bubble")).to_have_text(["你好，我的订单什么时候发货？"])
    expect(page.locator(".embed-url")).to_have_text(f"{system.chat_url}/kefu/?token=<令牌>&shop_id=1")
    frame = next(f for f in page.frames if "/kefu/" in f.url and "embed-demo" not in f.url)
    assert "token=" not in frame.url                      # taken out of the address once read
    screenshot(page, "embed-demo")


def test_the_demo_shop_page_adds_the_widget_for_a_logged_in_buyer(system, pages):
    page = pages.new_page()
    page.goto(f"{system.chat_url}/widget/demo.html?goods_id=5")
    page.locator("button[type=submit]").click()          # the demo buyer's credentials are filled in
    expect(page.locator(".product-info h1")).to_have_text("Demo商品05")
    page.locator(".kefu-widget-launcher").click()
    widget = page.frame_locator("iframe.kefu-widget-frame")
    expect(widget.locator("#widget")).to_have_attribute("data-connection", "open")
    expect(widget.locator(".w-goods .goods-name")).to_have_text("Demo商品05")
    expect(widget.locator(".w-name")).to_have_text("Demo Shop")
    screenshot(page, "widget-desktop")
    widget.locator(".w-close").click()                    # the widget asks its host page to close it
    expect(page.locator(".kefu-widget-box")).to_be_hidden()
