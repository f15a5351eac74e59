"""The WebSocket endpoint (`/` and `/ws`): handshake, read loop, dispatch.

Pings are answered inline the moment they are read; every other event is queued on the
connection and handled in order by a worker task, so a slow database never delays a ping and one
connection's events never overtake each other. A connection with too many events waiting is
flooding and is closed (4008).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

import asyncpg
from aiohttp import WSMsgType, web

from chat_server import closecodes, errors
from chat_server.chat import ChatError, ChatService
from chat_server.closecodes import CloseCode
from chat_server.connection import Connection, Principal, token_tag
from chat_server.data import principals
from chat_server.keys import CHAT, HUB, LIMITS, PRESENCE, REVOCATION, SWEEPER, TASKS
from chat_server.limits import Limits
from chat_server.protocol import (LOGIN_FRAME, ROLE_EVENTS, BadFrame, Chat, Ping, Read, Sync, Transfer, Typing,
                                  UserOnline, decode, message_frame, ping_frame, to_int)
from shared.service import POOL, SETTINGS
from shared.tokens import is_token_shaped
from shared.web import log_access, long_lived

log = logging.getLogger("kefu.chat.ws")

USER_CLIENTS = frozenset({1, 2, 3, 4, 6})
KEFU_CLIENT = 5
MAX_INBOX = 32
MAX_IN_FLIGHT = 32  # a connection's chat messages waiting for their commit at once
SERVICE = "chat_server"   # in access lines
MAX_STRIKES = 50     # rate-limited frames a connection may send before it is closed (4008)

# Database trouble: the event fails with a "busy" error frame; nothing was half-written.
DB_ERRORS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
             asyncpg.TooManyConnectionsError, ConnectionError, OSError, asyncio.TimeoutError)


class HandshakeRefused(Exception):
    def __init__(self, code: CloseCode, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg


async def authenticate(pool: asyncpg.Pool, query) -> Principal:
    """The principal behind the query string, or HandshakeRefused (spec §2)."""
    role = query.get("type", "")
    if role not in ("user", "kefu"):
        raise HandshakeRefused(closecodes.FORBIDDEN, errors.BAD_TYPE)
    client = to_int(query.get("client", ""))
    if client is None or (role == "user" and client not in USER_CLIENTS) or (role == "kefu" and client != KEFU_CLIENT):
        raise HandshakeRefused(closecodes.FORBIDDEN, errors.BAD_CLIENT)
    raw_shop = query.get("shop_id", "")
    shop_id = to_int(raw_shop) if raw_shop not in ("", "undefined", "null") else None
    if raw_shop not in ("", "undefined", "null") and shop_id is None:
        raise HandshakeRefused(closecodes.FORBIDDEN, errors.NO_SUCH_SHOP)
    token = query.get("token", "")
    if not is_token_shaped(token):
        raise HandshakeRefused(closecodes.AUTH_FAILED, errors.BAD_TOKEN)
    if role == "user":
        row = await principals.user_by_token(pool, token, client)
        if row is None:
            raise HandshakeRefused(closecodes.AUTH_FAILED, errors.BAD_TOKEN)
        shop_id = shop_id or 0
        if not await principals.shop_exists(pool, shop_id):
            raise HandshakeRefused(closecodes.FORBIDDEN, errors.NO_SUCH_SHOP)
        return Principal("user", row["id"], shop_id, client, row["nickname"], row["avatar"], token_tag(token),
                         row["session_id"], row["expires_at"])
    row = await principals.kefu_by_token(pool, token, client)
    if row is None:
        raise HandshakeRefused(closecodes.AUTH_FAILED, errors.BAD_TOKEN)
    if shop_id is not None and shop_id != row["shop_id"]:
        # The kefu's shop comes from its row; a console claiming another shop is refused.
        raise HandshakeRefused(closecodes.FORBIDDEN, errors.WRONG_SHOP)
    return Principal("kefu", row["id"], row["shop_id"], client, row["nickname"], row["avatar"], token_tag(token),
                     row["session_id"], row["expires_at"])


@long_lived
async def websocket(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    settings = request.app[SETTINGS]
    # autoclose off: a peer's close frame may be the answer to ours (read_loop, Connection.answered)
    ws = web.WebSocketResponse(max_msg_size=settings.max_frame_bytes, compress=False, heartbeat=None,
                               decode_text=False, autoclose=False)
    if not ws.can_prepare(request).ok:
        if request.path == "/":   # a person's browser on the bare address: the console is at /kefu/
            log_access(SERVICE, request, 302, started)
            raise web.HTTPFound("/kefu/")
        log_access(SERVICE, request, 200, started)
        return web.json_response({"service": "kefu chat server",
                                  "websocket": "connect with ?token=&type=user|kefu&client=&shop_id="})
    await ws.prepare(request)
    # One function from here to the end (no helper coroutine): each frame on an idle
    # connection's stack costs memory 50,000 times over.
    try:
        limits = request.app[LIMITS]
        try:
            if not limits.origin_allowed(request.headers.get("Origin")):
                raise HandshakeRefused(closecodes.POLICY, errors.BAD_ORIGIN)
            if not limits.new_connection_allowed(request.remote):
                raise HandshakeRefused(closecodes.RATE_LIMITED, errors.TOO_MANY_NEW_CONNECTIONS)
            checked_at = asyncio.get_running_loop().time()   # revocations after this are re-checked
            principal = await authenticate(request.app[POOL], request.query)
            if limits.too_many_connections(len(request.app[HUB].local(principal.topic))):
                raise HandshakeRefused(closecodes.RATE_LIMITED, errors.TOO_MANY_CONNECTIONS)
        except HandshakeRefused as refused:
            return await refuse(ws, refused.code, refused.msg)
        except DB_ERRORS:
            return await refuse(ws, closecodes.UNAVAILABLE, errors.BUSY)

        conn = Connection(ws, principal, request, max_frames=settings.outbox_frames,
                          max_bytes=settings.outbox_bytes)
        conn.bucket = limits.connection_bucket()
        conn.send(ping_frame(time.time()))
        conn.send(LOGIN_FRAME)
        await register(request.app, conn, checked_at)
        try:
            await read_loop(request.app, conn)
        finally:
            # Shielded: aiohttp may cancel the handler when the peer disconnects, and presence must
            # still be updated and the kefu told that the user went offline.
            await asyncio.shield(request.app[TASKS].spawn(unregister(request.app, conn)))
        return ws
    finally:
        log_access(SERVICE, request, 101, started)   # when the connection ends: "ms" is its life


async def refuse(ws: web.WebSocketResponse, code: CloseCode, msg: str) -> web.WebSocketResponse:
    """One `error` frame saying why, then the close code."""
    await ws.send_frame(message_frame("error", msg), WSMsgType.TEXT)
    await ws.close(code=code.code, message=code.reason.encode())
    return ws


async def register(app: web.Application, conn: Connection, checked_at: float) -> None:
    await app[HUB].add(conn)
    await app[PRESENCE].connect(conn.principal)
    app[SWEEPER].track(conn)
    app[REVOCATION].track(conn, checked_at)


async def unregister(app: web.Application, conn: Connection) -> None:
    conn.closing = True
    app[REVOCATION].untrack(conn)
    await app[HUB].remove(conn)
    last, owner = await app[PRESENCE].disconnect(conn.principal)
    if last and conn.principal.role == "user":
        try:
            await app[CHAT].user_went_offline(conn.principal, owner)
        except Exception as exc:   # best effort: the kefu's list shows presence on its next load anyway
            log.warning("could not tell the kefu that user %s went offline: %r", conn.principal.id, exc)


async def read_loop(app: web.Application, conn: Connection) -> None:
    """Until the connection ends. Once the server is closing it, frames are no longer handled: the
    loop only waits for the peer's answering close frame (or the cut after CLOSE_TIMEOUT)."""
    ws = conn.ws
    while True:
        msg = await ws.receive()
        if msg.type == WSMsgType.TEXT:
            if conn.closing:
                continue
            conn.last_seen = time.monotonic()
            on_text(app, conn, msg.data)
        elif msg.type == WSMsgType.BINARY:
            await conn.close(closecodes.POLICY, "不支持二进制消息")
        elif msg.type == WSMsgType.CLOSE:
            await conn.answered()
            return
        else:   # CLOSING, CLOSED, or ERROR (aiohttp already closed with 1009 for a too-large frame)
            return


def on_text(app: web.Application, conn: Connection, raw: bytes) -> None:
    # Limits first: a flood costs a bucket check per frame, not a decode.
    if not app[LIMITS].frame_allowed(conn.bucket, conn.principal.topic):
        conn.strikes += 1
        if conn.strikes > MAX_STRIKES:
            conn.close_soon(closecodes.RATE_LIMITED, errors.TOO_FAST)
        else:
            conn.send(message_frame("error", errors.TOO_FAST))
        return
    try:
        event = decode(raw)
    except BadFrame as bad:
        if bad.fatal:
            # One line, no traceback: the client is at fault, and the connection rate limit bounds
            # how often a client can make us write it.
            log.info("%r: closed 1008: %s", conn, bad)
            conn.close_soon(closecodes.POLICY, str(bad))
        else:
            conn.send(message_frame("error", str(bad)))
        return
    kind = type(event)
    if kind is Ping:
        conn.send(ping_frame(time.time()))
        return
    if kind not in ROLE_EVENTS[conn.principal.role]:
        conn.send(message_frame("error", errors.WRONG_ROLE))
        return
    if conn.inbox is None:
        conn.inbox = deque()
    elif len(conn.inbox) >= MAX_INBOX:
        conn.close_soon(closecodes.RATE_LIMITED, errors.TOO_FAST)
        return
    conn.inbox.append(event)
    if conn.worker is None:
        conn.worker = app[TASKS].spawn(work(app[CHAT], app[LIMITS], conn))


# The ChatService method of every event but chat (pipelined in `work`).
HANDLERS = {UserOnline: ChatService.user_online, Transfer: ChatService.transfer, Read: ChatService.read,
            Sync: ChatService.sync, Typing: ChatService.typing}


async def work(chat: ChatService, limits: Limits, conn: Connection) -> None:
    """Handle the connection's events in order. Chat messages are pipelined: up to MAX_IN_FLIGHT
    of them wait for their commit together (stored and published in order by the writer); any
    other event first waits until every earlier message is stored and published, so that no
    event overtakes one sent before it."""
    depth = MAX_IN_FLIGHT if chat.writer.enabled else 1   # one transaction per message: one at a time
    in_flight: deque[asyncio.Future] = deque()
    try:
        while conn.inbox:
            event = conn.inbox.popleft()
            kind = type(event)
            try:
                if kind is Chat:
                    while len(in_flight) >= depth:
                        await in_flight.popleft()
                    in_flight.append(await chat.send(conn, event.data))
                else:
                    while in_flight:
                        await in_flight.popleft()
                    replayed = await HANDLERS[kind](chat, conn, event.data)
                    if kind is Sync and replayed:
                        limits.charge_replay(conn.bucket, conn.principal.topic, replayed)
            except ChatError as exc:
                conn.send(message_frame("error", exc.msg))
            except DB_ERRORS as exc:
                log.warning("%r: %s failed, database unavailable: %s", conn, kind.__name__, exc)
                conn.send(message_frame("error", errors.BUSY))
            except Exception:
                log.exception("%r: %s failed", conn, kind.__name__)
                conn.send(message_frame("error", errors.BUSY))
            if not conn.inbox:
                # Done only once every message is settled: a later event starts a new worker,
                # and it must not overtake these.
                while in_flight and not conn.inbox:
                    await in_flight.popleft()
    finally:
        conn.worker = None
        if not conn.inbox:
            conn.inbox = None
