"""The stress test's clients: buyers and agents that behave like the real ones (send, retry with
the same client_msg_id, go away and come back on either node, `sync` what they missed), built on
shared.chat_client, and that record everything the invariants are checked against."""
from __future__ import annotations

import asyncio
import html
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from shared.chat_client import ChatClient, ChatClosed, ChatError, ConnectRefused, Tracker, connect

BUSY = "服务繁忙，请稍后再试"
TOO_FAST = "发送太频繁，请稍后再试"
# Refusals that are right in some states of the run (a transfer to a kefu who is reconnecting, a
# goods card while the commerce API is slow); anything else is a failure of the run.
TOLERATED = frozenset({"转接失败", "该客服不在线", "商品信息获取失败，请稍后再试"})
TRANSIENT = frozenset({BUSY, TOO_FAST})

SEND_TIMEOUT = 8.0
SEND_ATTEMPTS = 8


class OutOfTime(Exception):
    """The run's hard deadline passed while an actor was still trying."""


@dataclass
class Plan:
    """What the whole run shares: where the nodes are, and when to stop."""
    ports: list[int]
    session: aiohttp.ClientSession
    stop_at: float                  # monotonic: no new actions after this
    hard_deadline: float            # monotonic: give up reconnecting/retrying after this
    ping_interval: float = 10.0


@dataclass
class Actor:
    name: str
    role: str                       # "user" | "kefu"
    principal_id: int
    shop_id: int
    token: str
    client_type: int
    plan: Plan
    rng: random.Random
    peers: list[int] = field(default_factory=list)     # kefu ids of the shop (hints, transfer targets)
    tracker: Tracker = field(default_factory=Tracker)
    client: ChatClient | None = None
    port: int | None = None
    connections: int = 0
    close_codes: Counter = field(default_factory=Counter)    # of connections the server or network ended
    self_closed: set[int] = field(default_factory=set)       # id() of clients this actor closed itself
    retired: set[int] = field(default_factory=set)
    resyncs: Counter = field(default_factory=Counter)         # id(client) → `resync` frames received
    tolerated: Counter = field(default_factory=Counter)
    transient: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    unacked: set[str] = field(default_factory=set)            # sent, never echoed, given up on
    retries_checked: int = 0
    sent_count: int = 0
    actions: Counter = field(default_factory=Counter)
    _seen_clients: list[ChatClient] = field(default_factory=list)

    @property
    def conversation_key(self) -> tuple[int, int]:
        assert self.role == "user"
        return self.shop_id, self.principal_id

    # ---------------------------------------------------------------------------- connection

    def _check_deadline(self) -> None:
        if time.monotonic() > self.plan.hard_deadline:
            raise OutOfTime(f"{self.name}: out of time")

    def _retire(self, client: ChatClient) -> None:
        """Forget a connection; one the server or the network ended counts its close code."""
        if id(client) in self.retired:
            return
        self.retired.add(id(client))
        if client.closed.is_set() and id(client) not in self.self_closed:
            self.close_codes[client.close_code] += 1

    async def ensure_connected(self) -> ChatClient:
        """The current connection, or a new one to a random node (after a failure, the others too)."""
        if self.client is not None and not self.client.closed.is_set():
            return self.client
        if self.client is not None:
            self._retire(self.client)
        self.client = None
        delay = 0.1
        while True:
            self._check_deadline()
            port = self.rng.choice(self.plan.ports)
            try:
                client = await connect(f"ws://127.0.0.1:{port}/", self.token, self.role, self.client_type,
                                       self.shop_id, session=self.plan.session, tracker=self.tracker,
                                       ping_interval=self.plan.ping_interval, timeout=5)
            except ConnectRefused as refused:
                if refused.code in (4001, 4003, 4004):
                    self.failures.append(f"handshake refused: {refused}")
                    raise
                self.transient[f"connect refused {refused.code}"] += 1
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                self.transient[f"connect {type(exc).__name__}"] += 1
            else:
                self.client, self.port = client, port
                self.connections += 1
                key = id(client)
                client.on("resync", lambda _data, key=key: self.resyncs.update([key]))
                self._seen_clients.append(client)
                try:
                    await self._after_connect(client)
                except (ChatClosed, asyncio.TimeoutError, ConnectionError, aiohttp.ClientError):
                    await self.drop()      # went away again at once: connect anew
                    continue
                except ChatError as exc:
                    self._refused(exc.message)
                    if exc.message in TRANSIENT:     # announce and resume on a fresh connection
                        await self.drop()
                        await asyncio.sleep(0.2)
                        continue
                return client
            await asyncio.sleep(delay + self.rng.random() * delay)
            delay = min(delay * 2, 1.0)

    async def _after_connect(self, client: ChatClient) -> None:
        """What a real client does after (re)connecting: buyers announce themselves, both resume."""
        if self.role == "user":
            await client.user_online(self.rng.choice(self.peers), timeout=SEND_TIMEOUT)
            await client.sync(self.shop_id, self.principal_id, timeout=SEND_TIMEOUT)
        else:
            await client.resync_all(timeout=SEND_TIMEOUT)

    async def drop(self) -> None:
        """Close the current connection (it failed, or the actor decided to go away)."""
        client, self.client = self.client, None
        if client is not None:
            if not client.closed.is_set():
                self.self_closed.add(id(client))
            self._retire(client)
            await client.close()

    async def close(self) -> None:
        await self.drop()

    def _refused(self, message: str) -> None:
        if message in TOLERATED:
            self.tolerated[message] += 1
        elif message in TRANSIENT:
            self.transient[message] += 1
        else:
            self.failures.append(f"error frame: {message}")

    # ---------------------------------------------------------------------------- requests

    async def send(self, to_id: int, to_type: str, msg: str | int, msg_type: int = 1,
                   cmid: str | None = None) -> dict | None:
        """Send until the echo arrives (retrying the same client_msg_id across failures and
        reconnects); None when refused or given up on."""
        cmid = cmid or f"{self.name}-{self.sent_count}-{self.rng.getrandbits(32):08x}"
        self.sent_count += 1
        for attempt in range(SEND_ATTEMPTS):
            client = await self.ensure_connected()
            try:
                return await client.send_chat(to_id, to_type, msg, msg_type, cmid, timeout=SEND_TIMEOUT)
            except ChatError as exc:
                if exc.message not in TRANSIENT:
                    self._refused(exc.message)
                    return None
                self.transient[exc.message] += 1
                await asyncio.sleep(0.2 + self.rng.random() * 0.5)
            except (ChatClosed, asyncio.TimeoutError, ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
                self.transient[f"send {type(exc).__name__}"] += 1
                await self.drop()
                await asyncio.sleep(0.1 + self.rng.random() * 0.4)
        self.unacked.add(cmid)
        return None

    async def retry_old(self) -> None:
        """Resend an acknowledged message with its client_msg_id: the original must come back."""
        acked = [c for c, rec in self.tracker.acked.items() if rec.get("from_type") == self.role]
        if not acked:
            return
        cmid = self.rng.choice(acked)
        original = self.tracker.acked[cmid]
        to_id = original["to_id"] if self.role == "user" else original["user_id"]
        again = await self.send(to_id, original["to_type"], original_text(original), original["msg_type"], cmid)
        if again is not None:
            self.retries_checked += 1
            if (again["id"], again["seq"]) != (original["id"], original["seq"]):
                self.failures.append(f"retry of {cmid} answered {again['id']}/{again['seq']}, "
                                     f"first stored as {original['id']}/{original['seq']}")

    async def sync_one(self, shop_id: int, user_id: int) -> None:
        try:
            client = await self.ensure_connected()
            recovered, _ = await client.sync(shop_id, user_id, timeout=SEND_TIMEOUT)
            if not recovered:
                self.failures.append(f"sync of {shop_id}:{user_id} not recovered")
        except ChatError as exc:
            self._refused(exc.message)
        except (ChatClosed, asyncio.TimeoutError, ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self.transient[f"sync {type(exc).__name__}"] += 1
            await self.drop()

    async def silent(self, event: str, data: dict) -> None:
        try:
            client = await self.ensure_connected()
            await client.send_event(event, data)
        except (ChatClosed, ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self.transient[f"{event} {type(exc).__name__}"] += 1
            await self.drop()

    # ---------------------------------------------------------------------------- behaviour

    async def run(self) -> None:
        """Act until the plan's stop time, then leave a live connection behind."""
        await asyncio.sleep(self.rng.random() * 2)      # stagger the start
        step = 0
        while time.monotonic() < self.plan.stop_at:
            await self.ensure_connected()
            await (self._buyer_step(step) if self.role == "user" else self._kefu_step(step))
            step += 1
            await self._heal_gaps()
            await asyncio.sleep(self.rng.uniform(0.15, 0.9) if self.role == "user" else self.rng.uniform(0.08, 0.5))
        await self.ensure_connected()

    async def _heal_gaps(self) -> None:
        """A hole in a conversation that stays open after a moment is healed with `sync`, as real
        clients do (a frame can overtake another on its way through a different node)."""
        for (shop_id, user_id), conv in list(self.tracker.conversations.items()):
            if conv.missing():
                await asyncio.sleep(0.3)
                if conv.missing():
                    self.actions["heal"] += 1
                    await self.sync_one(shop_id, user_id)

    async def _buyer_step(self, step: int) -> None:
        r = self.rng.random()
        hint = self.rng.choice(self.peers)
        if r < 0.62:
            self.actions["send"] += 1
            await self.send(hint, "kefu", f"{self.name} 第{step}条 <&>")
        elif r < 0.70:
            self.actions["retry"] += 1
            await self.retry_old()
        elif r < 0.73:
            self.actions["goods"] += 1
            await self.send(hint, "kefu", goods_of(self.shop_id, self.rng), 3)
        elif r < 0.77:
            self.actions["reconnect"] += 1
            await self.drop()
            await asyncio.sleep(self.rng.uniform(0.05, 0.5))
            await self.ensure_connected()
        elif r < 0.84:
            self.actions["read"] += 1
            await self.silent("read", {"shop_id": self.shop_id})
        elif r < 0.90:
            self.actions["typing"] += 1
            await self.silent("typing", {"to_id": hint, "to_type": "kefu"})
        else:
            self.actions["sync"] += 1
            await self.sync_one(self.shop_id, self.principal_id)

    async def _kefu_step(self, step: int) -> None:
        users = [u for (s, u) in self.tracker.conversations if s == self.shop_id]
        if not users:
            return
        user_id = self.rng.choice(users)
        r = self.rng.random()
        if r < 0.68:
            self.actions["send"] += 1
            await self.send(user_id, "user", f"{self.name} 回复{step} \"ok\"")
        elif r < 0.76:
            self.actions["retry"] += 1
            await self.retry_old()
        elif r < 0.81:
            self.actions["read"] += 1
            await self.silent("read", {"shop_id": self.shop_id, "user_id": user_id})
        elif r < 0.84 and len(self.peers) > 1:
            self.actions["transfer"] += 1
            target = self.rng.choice([k for k in self.peers if k != self.principal_id])
            await self.silent("transfer", {"user_id": user_id, "kefu_id": target})
        elif r < 0.87:
            self.actions["reconnect"] += 1
            await self.drop()
            await asyncio.sleep(self.rng.uniform(0.05, 0.5))
            await self.ensure_connected()
        else:
            self.actions["sync"] += 1
            await self.sync_one(self.shop_id, user_id)

    # ---------------------------------------------------------------------------- the end

    async def final_sync(self, conversations: list[tuple[int, int]]) -> None:
        """Sync every conversation this actor should see in full (bounded retries)."""
        for shop_id, user_id in conversations:
            for attempt in range(4):
                client = await self.ensure_connected()
                try:
                    recovered, _ = await client.sync(shop_id, user_id, timeout=SEND_TIMEOUT)
                except (ChatError, ChatClosed, asyncio.TimeoutError, ConnectionError, aiohttp.ClientError) as exc:
                    self.transient[f"final sync {type(exc).__name__}"] += 1
                    await self.drop()
                    continue
                if not recovered:
                    self.failures.append(f"final sync of {shop_id}:{user_id} not recovered")
                break
            else:
                self.failures.append(f"final sync of {shop_id}:{user_id} failed 4 times")

    def live_clients(self) -> list[ChatClient]:
        return [c for c in self._seen_clients if not c.closed.is_set()]


def original_text(record: dict) -> str | int:
    """What was sent for a stored record (text was HTML-escaped on the way in)."""
    if record["msg_type"] == 3:
        return record["goods"]["id"]
    return html.unescape(record["msg"])


def goods_of(shop_id: int, rng: random.Random) -> int:
    """An on-sale goods id of the demo shop (1..10 in shop 1, 13..22 in shop 2)."""
    return (0 if shop_id == 1 else 12) + rng.randint(1, 10)
