"""Closes sockets whose login no longer holds, on every node, the moment it changes.

Postgres tells every node (LISTEN, on a connection of its own, re-opened if it drops); whoever
changes the row NOTIFYs in the same transaction, or a trigger does (sql/0001, 0003, 0008), so a
change made by any writer counts. Payloads carry ids, never token text:

* `kefu_revoked` (kefu id): the kefu logged out, or it or its admin account was disabled or
  deleted: its sockets close with 4001;
* `user_revoked` (user id): the buyer was disabled or deleted: its sockets close with 4001;
* `shop_revoked` (shop id): the shop was frozen or deleted: its kefus' sockets and the buyers'
  sockets opened for it close with 4001;
* `session_changed` (`user|kefu:<session id>:<expiry>`): a session was logged out, extended or
  deleted. Each node keeps, per session its sockets rest on, one timer at the session's expiry
  (not one per socket, no polling): when it passes, or at once for a logout, they close with 4001;
* `session_replaced` (`user|kefu:<id>:<client>:<tag>`, sql/0003): a newer login of the same
  principal and client replaced the token: sockets opened with another token close with 4004.

A notification sent while a node's LISTEN connection was down is lost: once it listens again,
the node re-checks the logins and shops of its sockets in one round trip (`recheck`).

Lookups go through indexes (by principal in the hub; by session and by shop here), never a scan
of the node's sockets. A change that lands while a socket is being authenticated (after its
token was checked, before it is registered) is remembered for a while, so `track` catches it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

import asyncpg

from chat_server import closecodes, errors
from chat_server.connection import Connection
from chat_server.data import principals
from chat_server.hub import Hub
from chat_server.tasks import cancel

log = logging.getLogger("kefu.chat.revocation")

REVOKED = "kefu_revoked"
USER_REVOKED = "user_revoked"
SHOP_REVOKED = "shop_revoked"
SESSION_CHANGED = "session_changed"
REPLACED = "session_replaced"

# How long a change is remembered for sockets still in their handshake: far longer than a handshake.
RECENT_SECONDS = 60.0


class _Login:
    """The sockets of one node resting on one session row, and the timer at its expiry."""
    __slots__ = ("conns", "expires_at", "timer")

    def __init__(self, expires_at: float) -> None:
        self.conns: list[Connection] = []
        self.expires_at = expires_at
        self.timer: asyncio.TimerHandle | None = None


def _remove(index: dict, key, conn: Connection) -> None:
    conns = index.get(key)
    if conns is not None and conn in conns:
        conns.remove(conn)
        if not conns:
            del index[key]


class RevocationListener:
    def __init__(self, dsn: str, hub: Hub, retry_delay: float = 1.0):
        self.dsn, self.hub, self.retry_delay = dsn, hub, retry_delay
        self._task: asyncio.Task | None = None
        self._loop = asyncio.get_running_loop()
        self.listening = asyncio.Event()
        self.listener_pid: int | None = None   # the LISTEN connection's backend (tests end it)
        self.rechecks = 0
        self._logins: dict[tuple[str, int], _Login] = {}          # (role, session id) → login
        self._shops: dict[int, list[Connection]] = {}             # shop id → its sockets
        # Changes of the last RECENT_SECONDS: key → (loop time received, value), in arrival order.
        self._recent: dict[tuple, tuple[float, float]] = {}
        self._recent_order: deque[tuple[float, tuple]] = deque()

    # ---------------------------------------------------------------------------- the node's index

    def track(self, conn: Connection, since: float) -> None:
        """Index a registered socket. `since`: loop time before its token was checked; a change
        received after it may not have been seen by the check and is applied now."""
        p = conn.principal
        key = (p.role, p.session_id)
        login = self._logins.get(key)
        if login is None:
            login = self._logins[key] = _Login(p.expires_at)
        login.conns.append(conn)
        self._shops.setdefault(p.shop_id, []).append(conn)
        # The handshake read the session after `since`: newer than any change received before it.
        expires_at = p.expires_at
        changed = self._recent.get(("session", p.role, p.session_id))
        if changed is not None and changed[0] >= since:
            expires_at = changed[1]
        if self._happened_since(("principal", p.role, p.id), since):
            conn.close_soon(closecodes.AUTH_FAILED, errors.REVOKED)
        elif self._happened_since(("shop", p.shop_id), since):
            conn.close_soon(closecodes.AUTH_FAILED, errors.SHOP_REVOKED)
        self._set_expiry(key, login, expires_at, errors.REVOKED)

    def untrack(self, conn: Connection) -> None:
        p = conn.principal
        key = (p.role, p.session_id)
        login = self._logins.get(key)
        if login is not None and conn in login.conns:
            login.conns.remove(conn)
            if not login.conns:
                if login.timer is not None:
                    login.timer.cancel()
                del self._logins[key]
        _remove(self._shops, p.shop_id, conn)

    def _set_expiry(self, key: tuple[str, int], login: _Login, expires_at: float, message: str) -> None:
        """Close the login's sockets when `expires_at` passes: at once if it has (`message` says
        why), else by a timer, moved when the expiry moves."""
        login.expires_at = expires_at
        remaining = expires_at - time.time()
        if remaining <= 0:
            self._close_login(key, message)
            return
        if login.timer is not None:
            login.timer.cancel()
        login.timer = self._loop.call_later(remaining, self._expired, key)

    def _expired(self, key: tuple[str, int]) -> None:
        login = self._logins.get(key)
        if login is None:
            return
        login.timer = None
        # The loop's clock and the wall clock may disagree by a hair: never close before the expiry.
        self._set_expiry(key, login, login.expires_at, errors.BAD_TOKEN)

    def _close_login(self, key: tuple[str, int], message: str) -> None:
        login = self._logins.get(key)
        if login is None:
            return
        if login.timer is not None:
            login.timer.cancel()
            login.timer = None
        for conn in tuple(login.conns):
            conn.close_soon(closecodes.AUTH_FAILED, message)

    # ------------------------------------------------------------------------ recent changes

    def _remember(self, key: tuple, value: float = 0.0) -> None:
        now = self._loop.time()
        self._recent[key] = (now, value)
        self._recent_order.append((now, key))
        horizon = now - RECENT_SECONDS
        while self._recent_order and self._recent_order[0][0] < horizon:
            at, old = self._recent_order.popleft()
            if self._recent.get(old, (None,))[0] == at:
                del self._recent[old]

    def _happened_since(self, key: tuple, since: float) -> bool:
        seen = self._recent.get(key)
        return seen is not None and seen[0] >= since

    # ---------------------------------------------------------------------------- notifications

    def _close_principal(self, role: str, payload: str) -> None:
        principal_id = payload.strip()
        if not principal_id.isdigit():
            return
        self._remember(("principal", role, int(principal_id)))
        for conn in tuple(self.hub.of_principal(role, int(principal_id))):
            conn.close_soon(closecodes.AUTH_FAILED, errors.REVOKED)

    def on_revoked(self, _conn, _pid, _channel, payload: str) -> None:
        self._close_principal("kefu", payload)

    def on_user_revoked(self, _conn, _pid, _channel, payload: str) -> None:
        self._close_principal("user", payload)

    def on_shop_revoked(self, _conn, _pid, _channel, payload: str) -> None:
        shop_id = payload.strip()
        if not shop_id.isdigit():
            return
        self._remember(("shop", int(shop_id)))
        for conn in tuple(self._shops.get(int(shop_id), ())):
            conn.close_soon(closecodes.AUTH_FAILED, errors.SHOP_REVOKED)

    def on_session_changed(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            role, session_id, expires_at = payload.split(":")
            session_id, expires_at = int(session_id), float(expires_at)
        except ValueError:
            return
        if role not in ("user", "kefu"):
            return
        self._remember(("session", role, session_id), expires_at)
        login = self._logins.get((role, session_id))
        if login is not None:
            self._set_expiry((role, session_id), login, expires_at, errors.REVOKED)

    def on_replaced(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            role, principal_id, client, tag = payload.split(":")
            principal_id, client = int(principal_id), int(client)
        except ValueError:
            return
        for conn in tuple(self.hub.of_principal(role, principal_id)):
            p = conn.principal
            if p.client == client and p.token_tag != tag:
                conn.close_soon(closecodes.REPLACED, errors.REPLACED)

    # ---------------------------------------------------------------------------- the listener

    async def recheck(self, db: asyncpg.Connection) -> None:
        """Apply what the node may have missed: every tracked session's current expiry (0, or
        gone: its principal is revoked or it was logged out) and every tracked shop's state."""
        asked_at = self._loop.time()
        keys = list(self._logins)
        valid, closed_shops = await principals.logins_still_valid(
            db, [i for role, i in keys if role == "user"], [i for role, i in keys if role == "kefu"],
            list(self._shops))
        for shop_id in closed_shops:
            for conn in tuple(self._shops.get(shop_id, ())):
                conn.close_soon(closecodes.AUTH_FAILED, errors.SHOP_REVOKED)
        for key in keys:
            login = self._logins.get(key)
            # a notification during the query is newer than its answer
            if login is not None and not self._happened_since(("session", *key), asked_at):
                self._set_expiry(key, login, valid.get(key, 0.0), errors.REVOKED)
        self.rechecks += 1

    async def run(self) -> None:
        channels = {REVOKED: self.on_revoked, USER_REVOKED: self.on_user_revoked,
                    SHOP_REVOKED: self.on_shop_revoked, SESSION_CHANGED: self.on_session_changed,
                    REPLACED: self.on_replaced}
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
                log.warning("cannot LISTEN yet (%s); retrying", exc)
                await asyncio.sleep(self.retry_delay)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                for channel, callback in channels.items():
                    await conn.add_listener(channel, callback)
                if self.listener_pid is not None:   # not the first time: changes may have been missed
                    await self.recheck(conn)
                self.listener_pid = conn.get_server_pid()
                self.listening.set()
                await lost.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN failed: %s", exc)
            finally:
                self.listening.clear()
                if not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(self.retry_delay)

    def start(self) -> None:
        self._task = self._loop.create_task(self.run())

    async def stop(self) -> None:
        await cancel(self._task)
        for login in self._logins.values():
            if login.timer is not None:
                login.timer.cancel()
