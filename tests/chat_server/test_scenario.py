"""Two buyers, two agents of shop 1, one afternoon: offline message, reconnection, transfer, read,
quick reply, goods card and image — through the real HTTP endpoints and WebSockets."""
import io
import struct
import zlib

import aiohttp


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


async def api(live, method: str, path: str, token: str, **kw) -> dict:
    resp = await live.client.request(method, path, headers={"token": token}, **kw)
    body = await resp.json()
    assert resp.status == 200 and body["code"] == 1, body
    return body["data"]


async def test_two_buyers_two_agents(live):
    # Agent A logs in through the console's endpoint; agent B is offline for now.
    login = await api(live, "POST", "/kefuapi/account/login", "",
                      json={"account": "shop1", "password": "shop123456", "type": 1, "client": 5})
    token_a = login["token"]
    agent_a = await live.connect(f"token={token_a}&type=kefu&client=5&shop_id=1")

    # Buyer 1 arrives and writes; agent A gets it.
    buyer1 = await live.user(1, shop_id=1)
    await buyer1.send("user_online", {"kefu_id": 2})
    assert (await agent_a.expect("user_online"))["user_id"] == 1
    await buyer1.send("chat", {"msg": "这件有货吗", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    await buyer1.expect("chat")
    assert (await agent_a.expect("chat"))["msg"] == "这件有货吗"

    # ... shares a goods card, and agent A answers with a quick reply.
    await buyer1.send("chat", {"msg": "5", "msg_type": 3, "to_id": 2, "to_type": "kefu"})
    card = (await agent_a.expect("chat"))["goods"]
    assert card["id"] == 5 and card["name"] == "Demo商品05"
    await buyer1.expect("chat")
    replies = await api(live, "GET", "/kefuapi/chat/reply", token_a, params={"keyword": "发货"})
    reply_text = replies["list"][0]["content"]
    await agent_a.send("chat", {"msg": reply_text, "msg_type": 1, "to_id": 1, "to_type": "user"})
    assert (await buyer1.expect("chat"))["msg"] == reply_text
    await agent_a.expect("chat")

    # Agent A uploads an image and sends it.
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(tiny_png()), filename="photo.png", content_type="image/png")
    upload = await api(live, "POST", "/kefuapi/file/formImage", token_a, data=form)
    await agent_a.send("chat", {"msg": upload["base_uri"], "msg_type": 2, "to_id": 1, "to_type": "user"})
    image = await buyer1.expect("chat")
    assert image["msg_type"] == 2 and image["msg"] == upload["base_uri"]
    await agent_a.expect("chat")

    # Buyer 2 writes while agent A is away: stored, delivered when A returns.
    await agent_a.close()
    buyer2 = await live.user(2, shop_id=1)
    await buyer2.send("user_online", {"kefu_id": 2})
    await buyer2.send("chat", {"msg": "在吗？", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    offline_msg = await buyer2.expect("chat")
    agent_a = await live.connect(f"token={token_a}&type=kefu&client=5&shop_id=1")
    users = await api(live, "GET", "/kefuapi/chat/user", token_a)
    by_user = {row["user_id"]: row for row in users["list"]}
    assert by_user[2]["is_read"] == 0 and by_user[2]["unread"] == 1 and by_user[2]["msg"] == "在吗？"
    history = await api(live, "GET", "/kefuapi/chat/record", token_a, params={"user_id": 2})
    assert [r["id"] for r in history["list"]] == [offline_msg["id"]]

    # Agent A reads buyer 2's conversation; buyer 2 sees the receipt.
    await agent_a.send("read", {"user_id": 2, "shop_id": 1})
    assert (await buyer2.expect("read"))["reader_type"] == "kefu"
    await agent_a.expect("read")

    # Buyer 1 reconnects and resumes without a gap.
    last_seen = image["seq"]
    await buyer1.close()
    assert (await agent_a.expect("user_online"))["online"] == 0
    buyer1 = await live.user(1, shop_id=1)
    await agent_a.send("chat", {"msg": "还有其他问题吗", "msg_type": 1, "to_id": 1, "to_type": "user"})
    await agent_a.expect("chat")
    live_frame = await buyer1.expect("chat")
    await buyer1.send("sync", {"shop_id": 1, "after_seq": last_seen})
    replayed = await buyer1.expect("chat")
    assert replayed["id"] == live_frame["id"]
    assert (await buyer1.expect("sync"))["last_seq"] == live_frame["seq"]

    # Agent B comes online; A transfers buyer 1 to B.
    agent_b = await live.kefu(3)
    online = await api(live, "GET", "/kefuapi/chat/online", token_a)
    assert [k["id"] for k in online] == [3]
    await agent_a.send("transfer", {"user_id": 1, "kefu_id": 3})
    assert (await buyer1.expect("chat"))["type"] == 2
    assert (await buyer1.expect("transfer"))["id"] == 3
    assert (await agent_a.expect("transfer"))["status"] == "send_success"
    assert (await agent_b.expect("transfer"))["status"] == "get_success"
    users_a = await api(live, "GET", "/kefuapi/chat/user", token_a)
    assert 1 not in {row["user_id"] for row in users_a["list"]}

    # The whole afternoon is in the buyer's history, in order, notices included.
    record = await api(live, "GET", "/api/user/chatRecord", await live.user_token(1), params={"shop_id": 1})
    assert record["kefu"]["id"] == 3
    seqs = [r["seq"] for r in record["record"]["list"]]
    assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
