"""The chat server restarted in the middle of a conversation (stopped and started again on the same
port): both pages reconnect by themselves, resume with `sync`, deliver what was typed while the
server was down exactly once, and end up with every record of the conversation in order, no gap
and no duplicate."""
from __future__ import annotations

import json

from tests.web.conftest import expect


def watch_sockets(page) -> list[tuple[str, dict]]:
    """Every protocol frame the page (and its iframes) sends ("sent") or receives ("received")."""
    log: list[tuple[str, dict]] = []

    def on_socket(ws) -> None:
        ws.on("framesent", lambda payload: log.append(("sent", json.loads(payload))))
        ws.on("framereceived", lambda payload: log.append(("received", json.loads(payload))))
    page.on("websocket", on_socket)
    return log


def seqs(locator) -> list[int]:
    return [int(s) for s in locator.evaluate_all("els => els.map(el => el.dataset.seq)")]


def test_both_pages_recover_without_a_gap_after_a_restart(system, pages):
    console = pages.console(kefu_id=2)
    buyer_token = system.buyer_token(7)
    shop, widget = pages.shop_page(buyer_token)
    widget.locator(".w-input").fill("重启前的问题")
    widget.locator(".send-btn").click()
    console.locator('.conv-item[data-user-id="7"]').click()
    console.locator(".composer-input").fill("收到，请稍等")
    console.locator(".send-btn").click()
    expect(widget.locator(".msg-items .msg.theirs .bubble")).to_have_text(["收到，请稍等"])

    console_frames, widget_frames = watch_sockets(console), watch_sockets(shop)
    system.chat.stop()   # SIGTERM: the server closes every socket with 1012 and exits
    expect(console.locator("#app")).not_to_have_attribute("data-connection", "open")
    expect(widget.locator("#widget")).not_to_have_attribute("data-connection", "open")
    expect(console.locator(".status-pill")).to_have_text("重新连接中…")

    # typed while the server is down: kept as "sending", sent when the connection is back
    widget.locator(".w-input").fill("断线时发的消息")
    widget.locator(".send-btn").click()
    expect(widget.locator(".msg-pending .msg")).to_have_count(1)

    system.chat.start()
    system.chat.wait_healthy()
    # Other clients of the same two people write at once, most likely before the pages are back:
    # the agent's second window and the buyer's second tab.
    system.say(f"token={pages.kefu_tokens[2]}&type=kefu&client=5",
               [{"msg": "客服另一个窗口发的", "msg_type": 1, "to_id": 7, "to_type": "user"}])
    system.say(f"token={buyer_token}&type=user&client=6&shop_id=1",
               [{"msg": "买家另一个标签页发的", "msg_type": 1, "to_id": 0, "to_type": "kefu"}])

    expect(console.locator("#app")).to_have_attribute("data-connection", "open", timeout=20_000)
    expect(widget.locator("#widget")).to_have_attribute("data-connection", "open", timeout=20_000)
    expect(widget.locator(".msg-pending .msg")).to_have_count(0)
    # each page resumed from the last seq it had: the agent's pane from 2, the buyer from 2
    for frames, who in ((console_frames, "console"), (widget_frames, "widget")):
        asked = [f["data"] for d, f in frames if d == "sent" and f["event"] == "sync"]
        assert asked and asked[0]["after_seq"] == 2 and asked[0]["shop_id"] == 1, (who, asked)
        answered = [f["data"] for d, f in frames if d == "received" and f["event"] == "sync"]
        assert answered and answered[0]["recovered"] is True, (who, answered)

    stored = system.records(1, 7)
    texts = [r["msg"] for r in stored]
    assert texts.count("断线时发的消息") == 1, texts                 # resent once, stored once
    assert [r["seq"] for r in stored] == list(range(1, 6))
    in_console = console.locator(".pane-messages .msg-items [data-seq]")
    in_widget = widget.locator(".msg-items [data-seq]")
    expect(in_console).to_have_count(5)
    expect(in_widget).to_have_count(5)
    assert seqs(in_console) == seqs(in_widget) == [1, 2, 3, 4, 5]
    expect(console.locator(".pane-messages .msg-items .bubble")).to_have_text(texts)
    expect(widget.locator(".msg-items .bubble")).to_have_text(texts)

    # and the conversation simply goes on
    console.locator(".composer-input").fill("服务器已恢复")
    console.locator(".send-btn").click()
    expect(widget.locator(".msg-items .bubble").last).to_have_text("服务器已恢复")
    assert seqs(in_widget) == [1, 2, 3, 4, 5, 6]
