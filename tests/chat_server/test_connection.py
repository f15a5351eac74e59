"""The connection's outbound path (connection.py): frames queued in one turn of the event loop are
framed by us and written together; every length class of the RFC 6455 header arrives intact and
in order at a real client; a peer that stops reading is cut off at the bound (test_limits.py).
A connection holds no HTTP middleware frame and logs one access line when it ends."""
import asyncio
import logging

import orjson

from chat_server.keys import HUB


async def test_a_burst_of_frames_of_every_header_size_arrives_intact_and_in_order(live):
    kefu = await live.kefu(2)
    conn = next(iter(live.app[HUB].local("k:2")))
    # 7-bit, 16-bit and 64-bit payload lengths, at and around each boundary.
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 70000, 3]
    frames = [orjson.dumps({"event": "notice", "data": {"n": i, "pad": "x" * size}}) for i, size in enumerate(sizes)]
    for payload in frames:          # all in one turn: one write
        conn.send(payload)
    for i, size in enumerate(sizes):
        frame = await kefu.receive()
        assert frame == {"event": "notice", "data": {"n": i, "pad": "x" * size}}


async def test_frames_queued_after_a_flush_are_written_by_the_next_one(live):
    kefu = await live.kefu(2)
    conn = next(iter(live.app[HUB].local("k:2")))
    conn.send(b'{"event":"notice","data":{"n":1}}')
    assert (await kefu.receive())["data"] == {"n": 1}
    conn.send(b'{"event":"notice","data":{"n":2}}')
    conn.send(b'{"event":"notice","data":{"n":3}}')
    assert [(await kefu.receive())["data"]["n"] for _ in range(2)] == [2, 3]
    await kefu.nothing()


def _stack_names(task: asyncio.Task) -> list[str]:
    names, coro = [], task.get_coro()
    while coro is not None and hasattr(coro, "cr_code"):
        names.append(coro.cr_code.co_name)
        coro = coro.cr_await
    return names


async def test_a_connection_keeps_no_middleware_frame_and_is_logged_once_when_it_ends(live, caplog):
    caplog.set_level(logging.INFO, logger="kefu.access")
    kefu = await live.kefu(2)
    stacks = [names for names in map(_stack_names, asyncio.all_tasks()) if "websocket" in names]
    assert len(stacks) == 1
    # The HTTP middlewares pass a WebSocket straight through: none of them is suspended on it.
    assert not [name for name in stacks[0] if "middleware" in name], stacks[0]
    assert "read_loop" in stacks[0]
    resp = await live.client.get("/healthz")          # an HTTP request still goes through them
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    await kefu.close()
    for _ in range(400):                              # until the connection's line is logged (generous)
        lines = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "kefu.access"]
        if any(line["status"] == 101 for line in lines):
            break
        await asyncio.sleep(0.05)
    upgraded = [line for line in lines if line["status"] == 101]
    assert len(upgraded) == 1 and upgraded[0]["path"] == "/" and upgraded[0]["svc"] == "chat_server"
    assert "token" not in orjson.dumps(upgraded[0]).decode()
    assert any(line["path"] == "/healthz" and line["status"] == 200 for line in lines)
