"""The ceiling: a bare aiohttp + uvloop WebSocket server that greets like the chat server (ping,
login) and echoes every text frame back, with the chat server's WebSocket options. Whatever the
chat server costs beyond this is the cost of the product, not of the stack.

    python bench/echo_server.py --port 20299
"""
from __future__ import annotations

import argparse
import resource
import time

import uvloop
from aiohttp import WSMsgType, web

LOGIN = b'{"event":"login","data":{"msg":"\\u8fde\\u63a5\\u6210\\u529f","msg_type":1}}'


async def echo(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(max_msg_size=64 * 1024, compress=False, heartbeat=None, decode_text=False)
    await ws.prepare(request)
    await ws.send_frame(b'{"event":"ping","data":{"client_time":%d}}' % int(time.time()), WSMsgType.TEXT)
    await ws.send_frame(LOGIN, WSMsgType.TEXT)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_frame(msg.data, WSMsgType.TEXT)
        else:
            break
    return ws


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", echo)
    app.router.add_get("/ws", echo)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=20299)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    web.run_app(create_app(), host=args.host, port=args.port, access_log=None, print=None, backlog=1024,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
