"""A buyer and an agent in real pages: the widget on a shop's own site (phone-sized) and the kefu
console (laptop-sized), talking through the running chat server."""
from __future__ import annotations

import re
import time

import pytest

from tests.web.conftest import expect, png_file, screenshot


def test_a_buyer_writes_from_the_widget_and_the_agent_replies(system, pages):
    console = pages.console(kefu_id=2)
    shop, widget = pages.shop_page(system.buyer_token(1))

    widget.locator(".w-input").fill("你好，想问一下发货时间 ")
    widget.locator(".emoji-btn").click()
    widget.locator('.emoji-choice[data-name="smile"]').click()          # the picker inserts the token
    expect(widget.locator(".w-input")).to_have_value("你好，想问一下发货时间 [em-smile]")
    buyer_typed_at = time.monotonic()   # typing signals: at most one per sender per 2 s
    widget.locator(".send-btn").click()
    mine = widget.locator(".msg-items .msg.mine")
    expect(mine.locator(".bubble")).to_have_text(["你好，想问一下发货时间 😊"])
    expect(widget.locator(".msg-pending .msg")).to_have_count(0)   # the echo replaced the "sending" bubble

    row = console.locator('.conv-item[data-user-id="1"]')
    expect(row.locator(".conv-preview")).to_have_text("你好，想问一下发货时间 😊")
    expect(row.locator(".unread-badge")).to_have_text("1")
    expect(row.locator(".online-dot.online")).to_have_count(1)
    row.click()
    expect(console.locator(".pane-messages .msg.theirs .bubble")).to_have_text(["你好，想问一下发货时间 😊"])
    expect(row.locator(".unread-badge")).to_have_count(0)
    expect(mine.locator(".msg-receipt")).to_have_text(["已读"])      # the agent's read receipt reached the buyer
    expect(console.locator(".profile")).to_contain_text("138****0001")

    # typing, both ways
    console.locator(".composer-input").press_sequentially("您")
    expect(widget.locator(".msg-typing")).to_have_text("客服正在输入…")
    console.locator(".composer-input").fill("您好！付款后 48 小时内发货 [em-thumbsup]")
    console.locator(".composer-input").press("Enter")
    expect(widget.locator(".msg-items .msg.theirs .bubble")).to_have_text(["您好！付款后 48 小时内发货 👍"])
    expect(widget.locator(".msg-items .msg.theirs .msg-name")).to_have_text(["Demo客服A"])
    expect(console.locator(".pane-messages .msg.mine .msg-receipt")).to_have_text(["已读"])   # the buyer's receipt
    time.sleep(max(0.0, buyer_typed_at + 2.2 - time.monotonic()))
    widget.locator(".w-input").press_sequentially("好")
    expect(console.locator(".pane-messages .msg-typing")).to_have_text("对方正在输入…")

    # the agent's tab in the background: a new message flashes the title until the tab is back
    console.evaluate("() => Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})")
    widget.locator(".w-input").fill("好的，谢谢")
    widget.locator(".w-input").press("Enter")
    expect(console).to_have_title(re.compile("【新消息】买家01: 好的，谢谢"))
    expect(row.locator(".unread-badge")).to_have_text("1")        # not read while nobody looks
    console.evaluate("() => { delete document.hidden; document.dispatchEvent(new Event('visibilitychange')); }")
    expect(console).to_have_title("客服工作台 - Demo客服A")
    expect(row.locator(".unread-badge")).to_have_count(0)
    console.locator(".sound-btn").click()                                  # the beep can be turned off, and stays off
    expect(console.locator(".sound-btn")).to_have_attribute("aria-pressed", "false")
    assert console.evaluate("() => localStorage.getItem('kefu.sound')") == "off"

    stored = system.records(1, 1)
    assert [(r["from_type"], r["msg"]) for r in stored] == [
        ("user", "你好，想问一下发货时间 [em-smile]"), ("kefu", "您好！付款后 48 小时内发货 [em-thumbsup]"),
        ("user", "好的，谢谢")]
    screenshot(console, "console")
    screenshot(shop, "widget-phone")


def test_a_goods_card_and_images_both_ways(system, pages, tmp_path):
    console = pages.console(kefu_id=2)
    _shop, widget = pages.shop_page(system.buyer_token(2), goods_id=3)

    offer = widget.locator(".w-goods")
    expect(offer.locator(".goods-name")).to_have_text("Demo商品03")
    expect(offer.locator(".goods-price")).to_have_text("¥31.90")
    offer.locator(".send-goods-btn").click()
    expect(offer).to_be_hidden()
    expect(widget.locator(".msg-items .msg.mine .goods-card .goods-name")).to_have_text(["Demo商品03"])

    # an image: checked in the browser, previewed, uploaded to the commerce API, then sent
    widget.locator("input.image-input").set_input_files(str(png_file(tmp_path / "photo.png")))
    widget.locator(".modal .image-preview img").wait_for()
    widget.locator(".send-image-btn").click()
    sent = widget.locator(".msg-items .msg.mine img.msg-image")
    expect(sent).to_have_count(1)
    expect(sent).to_have_js_property("naturalWidth", 64)

    # too big: refused before any upload
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_file(tmp_path / "h.png").read_bytes() + b"\0" * (5 * 1024 * 1024 + 1))
    widget.locator("input.image-input").set_input_files(str(huge))
    expect(widget.locator(".toast-error")).to_have_text("图片不能超过 5 MB")

    console.locator('.conv-item[data-user-id="2"]').click()
    theirs = console.locator(".pane-messages .msg.theirs")
    expect(theirs).to_have_count(2)
    expect(theirs.nth(0).locator(".goods-card .goods-name")).to_have_text("Demo商品03")
    expect(theirs.nth(0).locator(".goods-card .goods-price")).to_have_text("¥31.90")
    expect(theirs.nth(1).locator("img.msg-image")).to_have_js_property("naturalWidth", 64)

    # the agent sends an image back (uploaded to the chat server's /kefuapi/file/formImage)
    console.locator("input.image-input").set_input_files(str(png_file(tmp_path / "reply.png", 40, 30, (40, 120, 220))))
    console.locator(".send-image-btn").click()
    expect(widget.locator(".msg-items .msg.theirs img.msg-image")).to_have_js_property("naturalWidth", 40)

    assert [(r["from_type"], r["msg_type"]) for r in system.records(1, 2)] == [("user", 3), ("user", 2), ("kefu", 2)]
    screenshot(console, "console-goods-image")


def test_markup_from_either_side_is_shown_as_text(system, pages):
    # The original console ran a buyer's markup from the conversation list (a stored XSS).
    nickname = '<img src=x onerror=alert("nick")>'
    system.execute('UPDATE "user" SET nickname = $1 WHERE id = 3', nickname)
    console = pages.console(kefu_id=2)
    _shop, widget = pages.shop_page(system.buyer_token(3))

    payload = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quotes\" 'single' &lt;"
    widget.locator(".w-input").fill(payload)
    widget.locator(".send-btn").click()
    expect(widget.locator(".msg-items .msg.mine .bubble")).to_have_text([payload])

    row = console.locator('.conv-item[data-user-id="3"]')
    expect(row.locator(".conv-preview")).to_have_text(payload)
    expect(row.locator(".conv-name")).to_have_text(nickname)
    row.click()
    expect(console.locator(".pane-messages .msg.theirs .bubble")).to_have_text([payload])
    expect(console.locator(".pane-name")).to_have_text(nickname)

    answer = '<b>bold</b> <a href="javascript:alert(2)">link</a> &amp;'
    console.locator(".composer-input").fill(answer)
    console.locator(".send-btn").click()
    expect(widget.locator(".msg-items .msg.theirs .bubble")).to_have_text([answer])
    expect(console.locator(".pane-messages .msg.mine .bubble")).to_have_text([answer])

    injected = "script, b, a, img[src='x'], img[onerror]"
    assert console.locator(f".msg-items :is({injected}), .conv-list :is({injected}), .pane-head :is({injected})").count() == 0
    assert widget.locator(f".msg-items :is({injected})").count() == 0
    assert not pages.dialogs
    # stored as the original console needs it: escaped once
    assert system.records(1, 3)[0]["msg"] == ("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
                                              " &amp; &quot;quotes&quot; &#x27;single&#x27; &amp;lt;")


# 45 messages in a burst from one script: more than the per-connection frame rate lets through.
@pytest.mark.parametrize("extra_env", [{"CHAT_RATE_PER_CONNECTION": "0", "CHAT_RATE_PER_PRINCIPAL": "0"}])
def test_console_history_paging_quick_replies_buyer_panel_and_search(system, pages):
    console = pages.console(kefu_id=2)
    token = system.buyer_token(4)
    system.say(f"token={token}&type=user&client=6&shop_id=1",
               [{"msg": f"消息 {i:02d}", "msg_type": 1, "to_id": 0, "to_type": "kefu"} for i in range(1, 46)],
               user_online={"kefu_id": None})

    row = console.locator('.conv-item[data-user-id="4"]')
    expect(row.locator(".unread-badge")).to_have_text("45")
    row.click()
    bubbles = console.locator(".pane-messages .msg-items .msg .bubble")
    expect(bubbles).to_have_count(20)                        # the newest page
    expect(bubbles.last).to_have_text("消息 45")
    scroller = console.locator(".pane-messages")
    for expected in (40, 45):                                # scrolling up pages in older history
        scroller.evaluate("el => el.scrollTop = 0")
        expect(bubbles).to_have_count(expected)
    expect(console.locator(".msg-older")).to_have_text("没有更多消息了")
    assert bubbles.all_inner_texts() == [f"消息 {i:02d}" for i in range(1, 46)]

    console.locator(".reply-btn").click()
    console.locator(".reply-search").fill("发货")
    expect(console.locator(".reply-item")).to_have_count(1)
    console.locator(".reply-item").click()
    expect(console.locator(".composer-input")).to_have_value("付款后 48 小时内发货，节假日顺延。")

    expect(console.locator(".profile")).to_contain_text("138****0004")
    console.locator('.tab[data-tab="orders"]').click()
    orders = console.locator(".order-card")
    expect(orders).to_have_count(5)
    order_sn = orders.first.get_attribute("data-order-sn")
    console.locator(".order-search").fill(order_sn)
    expect(orders).to_have_count(1)

    console.locator(".conv-search").fill("买家04")
    expect(console.locator(".conv-item")).to_have_count(1)
    console.locator(".conv-search").fill("没有这个人")
    expect(console.locator(".conv-item")).to_have_count(0)
    expect(console.locator(".conv-empty")).to_be_visible()
