"""Limits and backpressure: frame rate per connection and per principal, new connections per IP,
connections per principal, the Origin allow-list, and a slow consumer cut off (4009)."""
import asyncio

import aiohttp

from chat_server import connection
from chat_server.keys import HUB
from tests.chat_server.test_events import start_conversation


async def test_frame_rate_per_connection(node):
    live = await node(CHAT_RATE_PER_CONNECTION="2")      # burst 4; refilling one frame per 0.5 s
    kefu, user = await start_conversation(live)
    for _ in range(12):                                 # every ping is answered: a ping, or refused
        await user.send("ping")
    answers = [(await user.receive())["event"] for _ in range(12)]
    # 4 from the burst, and whatever refilled meanwhile (which would take 4 s to cover all 8 more)
    assert "ping" in answers and "error" in answers and answers.count("ping") <= 11
    # The bucket refills: a message sent after a refusal goes through once it has (no clock here,
    # just the first of a few tries that is not refused), and nothing refused was delivered.
    for attempt in range(30):
        await user.send("chat", {"msg": f"try {attempt}", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
        frame = await user.receive()
        if frame["event"] == "chat":
            break
        assert frame["data"]["msg"] == "发送太频繁，请稍后再试"
        await asyncio.sleep(0.2)
    assert frame["data"]["msg"] == f"try {attempt}"
    assert (await kefu.expect("chat"))["msg"] == f"try {attempt}"


async def test_persistent_flooder_is_closed_4008(node):
    live = await node(CHAT_RATE_PER_CONNECTION="2")
    kefu, user = await start_conversation(live)
    for _ in range(80):
        if user.ws.closed:
            break
        await user.send("ping")
    code, _ = await user.closed()
    assert code == 4008


async def test_frame_rate_per_principal_spans_connections(node):
    live = await node(CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="1")   # burst 2
    kefu, tab1 = await start_conversation(live)
    tab2 = await live.user(7, shop_id=1)
    for sock in (tab1, tab2, tab1, tab2, tab1, tab2, tab1, tab2):
        await sock.send("ping")
    frames = [await tab1.receive() for _ in range(4)] + [await tab2.receive() for _ in range(4)]
    refused = [f for f in frames if f["event"] == "error"]
    assert len(refused) >= 1 and refused[0]["data"]["msg"] == "发送太频繁，请稍后再试"


async def test_a_sync_replay_is_charged_to_the_rate_limit_by_its_size(node):
    writer = await node(CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="0")
    kefu, user = await start_conversation(writer)
    for i in range(80):                                      # ~6 KB each, ~500 KB in all
        await user.send("chat", {"msg": f"{i}" + "长" * 1990, "msg_type": 1, "to_id": 2, "to_type": "kefu"})
        await user.expect("chat")
    # A node of the same database with 2 frames/s (burst 4) per connection: a big replay is worth
    # ~30 frames, a debt of ~15 s; a small one costs a fraction of a frame.
    live = await node(CHAT_RATE_PER_CONNECTION="2", CHAT_RATE_PER_PRINCIPAL="0", SYNC_REPLAY_MAX_BYTES="1048576")
    small = await live.user(7, shop_id=1)
    await small.send("sync", {"shop_id": 1, "after_seq": 79})
    assert (await small.expect("chat"))["seq"] == 80 and (await small.expect("sync"))["recovered"] is True
    await small.send("ping")
    assert (await small.receive())["event"] == "ping"
    big = await live.user(7, shop_id=1)
    await big.send("sync", {"shop_id": 1, "after_seq": 0})
    assert [(await big.expect("chat"))["seq"] for _ in range(80)] == list(range(1, 81))
    assert (await big.expect("sync"))["recovered"] is True
    await big.send("ping")
    assert await big.receive() == {"event": "error", "data": {"msg": "发送太频繁，请稍后再试", "msg_type": 1}}


async def test_new_connections_per_ip(node):
    live = await node(CHAT_CONNECTION_RATE_PER_IP="1")   # burst 2: 4 more would take 4 s to refill
    token = await live.user_token(7)
    codes = []
    for _ in range(6):
        sock = await live.connect(f"token={token}&type=user&client=6&shop_id=1", expect_login=False)
        first = await sock.receive()
        if first["event"] == "error":
            codes.append((await sock.closed())[0])
            assert first["data"]["msg"] == "连接太频繁，请稍后再试"
        else:
            codes.append("ok")
    assert codes[:2] == ["ok"] * 2 and 4008 in codes[2:]


async def test_connections_per_principal(node):
    live = await node(CHAT_MAX_CONNECTIONS_PER_PRINCIPAL="2")
    await live.user(7, shop_id=1)
    await live.user(7, shop_id=1)
    token = await live.user_token(7)
    sock = await live.connect(f"token={token}&type=user&client=6&shop_id=1", expect_login=False)
    code, frames = await sock.closed()
    assert code == 4008 and frames[0]["data"]["msg"] == "连接数过多"
    other_shop = await live.user(7, shop_id=2)          # another shop is another conversation
    assert other_shop is not None


async def test_origin_allow_list(node):
    live = await node(CHAT_ALLOWED_ORIGINS="https://shop.example.com")
    token = await live.user_token(7)
    url = live.client.make_url(f"/?token={token}&type=user&client=6&shop_id=1")
    bad = await live.client.session.ws_connect(url, headers={"Origin": "https://evil.example"})
    msg = await bad.receive()
    assert "来源不被允许" in msg.data
    await bad.receive()
    assert bad.close_code == 1008
    good = await live.client.session.ws_connect(url, headers={"Origin": "https://shop.example.com"})
    assert "ping" in (await good.receive()).data
    await good.close()
    native = await live.client.session.ws_connect(url)   # apps send no Origin
    assert "ping" in (await native.receive()).data
    await native.close()


async def test_slow_consumer_is_closed_4009_and_others_unaffected(node):
    live = await node(CHAT_OUTBOX_FRAMES="10", CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="0")
    kefu, user = await start_conversation(live)
    other_kefu = await live.kefu(3)
    # More frames than the bound queued for one connection before its writer can drain any:
    # exactly what a peer that stopped reading causes, only faster.
    slow = next(iter(live.app[HUB].local("k:2")))
    for _ in range(200):
        slow.send(b'{"event":"notice","data":{"msg":"' + b"x" * 2000 + b'","msg_type":1}}')
    code, _ = await kefu.closed(timeout=10)
    assert code == 4009
    assert kefu.ws.close_code == 4009     # and the closing handshake completed
    await other_kefu.send("ping")
    assert isinstance((await other_kefu.expect("ping"))["client_time"], int)


async def overflow_a_reader_that_stopped(live, kefu) -> connection.Connection:
    """Stop the kefu's client reading, then push frames at its connection until the server gives
    up on it: the kernel's buffers and the transport's fill, then the outbound queue."""
    kefu.ws._conn.transport.pause_reading()
    slow = live.app[HUB].local("k:2")[0]
    frame = b'{"event":"notice","data":{"msg":"' + b"x" * 16000 + b'","msg_type":1}}'
    for _ in range(100_000):
        if slow.closing:
            break
        slow.send(frame)
        await asyncio.sleep(0)
    assert slow.closing
    return slow


async def test_a_client_that_stopped_reading_gets_4009_when_it_reads_again(node):
    """A real slow consumer: the close frame is written even though the peer's buffers are full
    (the queued frames are dropped, not waited for), so the client reads 4009, not 1006/1000."""
    live = await node(CHAT_OUTBOX_FRAMES="20", CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="0")
    kefu = await live.kefu(2)
    slow = await overflow_a_reader_that_stopped(live, kefu)
    for _ in range(500):
        if slow.close_sent:
            break
        await asyncio.sleep(0.01)
    assert slow.close_sent
    kefu.ws._conn.transport.resume_reading()
    while (msg := await kefu.ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
        pass
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4009, msg
    assert kefu.ws.close_code == 4009


async def test_a_client_that_never_reads_again_is_cut_after_the_close_timeout(node, monkeypatch):
    monkeypatch.setattr(connection, "CLOSE_TIMEOUT", 0.5)
    live = await node(CHAT_OUTBOX_FRAMES="20", CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="0")
    kefu = await live.kefu(2)
    await overflow_a_reader_that_stopped(live, kefu)
    # its buffers are released: the connection is gone from the node
    for _ in range(1000):
        if not live.app[HUB].local("k:2"):
            break
        await asyncio.sleep(0.01)
    assert not live.app[HUB].local("k:2")
