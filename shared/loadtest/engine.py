"""One process's share of a load test: its connections (made with `shared.chat_client`), their
heartbeats, the senders of the scenario, storms, and the measurements.

Latency needs no shared clock between processes: every `client_msg_id` this run sends carries the
time the send was *scheduled* for (CLOCK_MONOTONIC, µs, the same clock in every process of the
machine), so the recipient measures send → delivery from it and the sender send → echo. In open
loop the schedule runs by the clock whatever the server does; a send that goes out late still
counts from its scheduled time, so a stalled server shows up as latency instead of hiding behind
fewer sends (coordinated omission).

Sequence checking follows each buyer connection's conversation (a buyer sees every record of it);
gaps are counted from the first record a connection sees, since a load test joins conversations
that may have history. Kefu connections count duplicates only: which kefu owns a conversation may
change as buyers reconnect, so a kefu legitimately sees only part of one.
"""
from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from shared.chat_client import (
    ChatClient,
    ChatClosed,
    ChatError,
    ConnectRefused,
    Tracker,
    connect,
)
from shared.loadtest.metrics import Metrics
from shared.loadtest.plan import Plan, Slot

BUYER_CLIENT, KEFU_CLIENT = 6, 5
# Close codes after which real clients do not reconnect (README, close codes).
NO_RECONNECT = frozenset({4001, 4003, 4004, 1008, 1009})
# Handshake refusals that say "later": rate limited, database unavailable.
TRY_LATER = frozenset({4008, 1013})
CONNECT_ATTEMPTS = 30
RECONNECT_PAUSE = 4.0          # as the real clients: 4 s between attempts, at most 5 in a row
RECONNECT_ATTEMPTS = 5
SYNC_TIMEOUT = 30.0
CLOSE_CONCURRENCY = 2000
WHEEL_STEP = 0.05
# Open loop: sends due within a millisecond leave together (each is still timed from its own
# scheduled instant, so lateness counts as latency); waking for every single send cost the load
# generator about as much CPU as the server under test.
SEND_TICK = 0.001
ECHO_TIMEOUT = 10.0
TIMED_OUT = "timed out"      # a closed-loop sender's wait, ended by the ticker


def now_us() -> int:
    return time.monotonic_ns() // 1000


class FirstSightTracker(Tracker):
    """A Tracker that starts each conversation at the first record it sees of it."""

    def observe(self, record: dict) -> None:
        key = (record["shop_id"], record["user_id"])
        if key not in self.conversations:
            self.conversation(*key, last_seq=max(0, int(record["seq"]) - 1))
        super().observe(record)


class Conn:
    """One slot's connection across reconnects."""
    __slots__ = (
        "alive",
        "client",
        "dropped_at",
        "frames_seen",
        "generation",
        "index",
        "last_rx",
        "next_owned",
        "outstanding",
        "owned",
        "owned_set",
        "ping_sent",
        "ping_sent_us",
        "session",
        "slot",
        "tracker",
        "waiter",
        "waiting_since",
    )

    def __init__(self, index: int, slot: Slot, session: aiohttp.ClientSession):
        self.index, self.slot, self.session = index, slot, session
        self.client: ChatClient | None = None
        self.tracker = FirstSightTracker()
        self.alive = False
        self.dropped_at = 0
        self.frames_seen = 0
        self.last_rx = 0.0
        self.ping_sent = 0.0
        self.ping_sent_us = 0
        self.generation = 0                     # bumped per connection: stale heartbeat entries are skipped
        self.waiter: asyncio.Future | None = None   # closed loop: resolved by the echo (or an error)
        self.waiting_since = 0                  # µs: when the awaited send was made
        self.outstanding: dict[str, int] = {}   # client_msg_id → scheduled send time (µs)
        self.owned: list[int] = []              # kefu: buyers whose conversations it has seen
        self.owned_set: set[int] = set()
        self.next_owned = 0


class Engine:
    def __init__(self, plan: Plan, on_tick: Callable[[dict[str, Any]], None] | None = None):
        self.plan = plan
        self.on_tick = on_tick
        self.metrics = Metrics()
        self.interval = Metrics()
        self.prefix = plan.run_id + "."
        self.text = ("load test " + "x" * plan.text_size)[:max(1, plan.text_size)]
        self.sessions = [aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, local_addr=(src, 0) if src else None),
            trust_env=False) for src in plan.sources]
        self.conns = [Conn(i, s, self.sessions[i % len(self.sessions)]) for i, s in enumerate(plan.slots)]
        self.connect_gate = asyncio.Semaphore(plan.connect_concurrency)
        self.sending = False
        self.stopping = False
        self.finished = asyncio.Event()         # finish(): end the measured phase before its planned end
        self.sent_serial = 0
        self.established = 0
        self.peak = 0
        self.phases: dict[str, float] = {}
        self.final: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()
        self.wheel: dict[int, list[tuple[Conn, int]]] = {}
        self.wheel_cursor = 0                   # the next slot the heartbeat will look at
        self.heartbeat_task: asyncio.Task | None = None

    # ------------------------------------------------------------------------- measurements

    def count(self, name: str, n: int = 1) -> None:
        self.metrics.counters[name] += n
        self.interval.counters[name] += n

    def record(self, kind: str, micros: int) -> None:
        self.metrics.latency[kind].record(micros)
        self.interval.latency[kind].record(micros)

    def error(self, kind: str) -> None:
        self.metrics.errors[kind] += 1
        self.interval.errors[kind] += 1

    def start_measuring(self) -> None:
        """Fresh measurements for the measured phase; connecting and errors of every phase are kept."""
        before, fresh = self.metrics, Metrics()
        fresh.latency["connect"] = before.latency["connect"]
        fresh.counters["connects"] = before.counters["connects"]
        fresh.errors = before.errors
        self.metrics = fresh
        self.phases["measure_start"] = time.monotonic()

    def alive(self) -> int:
        return sum(1 for c in self.conns if c.alive)

    # ------------------------------------------------------------------------- connections

    async def connect_one(self, c: Conn) -> bool:
        """Connect, retrying for a while when the server says "later" (its per-address rate limit
        on new connections answers 4008; spread over more --source-addrs to need fewer retries)."""
        for attempt in range(CONNECT_ATTEMPTS):
            outcome = await self.handshake(c)
            if outcome != "later":
                return outcome == "ok"
            await asyncio.sleep(0.5 + random.random())
        self.error("connect: gave up after repeated refusals")
        return False

    async def handshake(self, c: Conn) -> str:
        """"ok", "later" or "failed"."""
        slot = c.slot
        async with self.connect_gate:
            if self.stopping:
                return "failed"
            started = now_us()
            try:
                url = self.plan.kefu_url if slot.role == "kefu" and self.plan.kefu_url else self.plan.url
                client = await connect(url, slot.token, slot.role,
                                       KEFU_CLIENT if slot.role == "kefu" else BUYER_CLIENT, slot.shop_id,
                                       session=c.session, tracker=c.tracker, ping_interval=None,
                                       timeout=self.plan.connect_timeout)
            except ConnectRefused as exc:
                self.error(f"connect refused: close {exc.code}" + (f" {exc.message}" if exc.message else ""))
                return "later" if exc.code in TRY_LATER else "failed"
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                self.error(f"connect: {type(exc).__name__}")
                return "failed"
            self.record("connect", now_us() - started)
        self.count("connects")
        client.on("chat", lambda data, c=c: self.on_chat(c, data))
        client.on("ping", lambda data, c=c: self.on_ping(c))
        client.on("error", lambda data, c=c: self.on_error_frame(c, data))
        if slot.role == "kefu":
            client.on("user_online", lambda data, c=c: self.on_user_online(c, data))
        c.client = client
        # Independent clients' heartbeats are out of phase: the first ping comes after a random part
        # of the interval, then after every `ping_interval` of silence.
        c.frames_seen, c.last_rx, c.ping_sent = 0, time.monotonic() - random.uniform(0, self.plan.ping_interval), 0.0
        c.alive = True
        c.generation += 1
        self.file(c, c.last_rx + self.plan.ping_interval)
        return "ok"

    async def announce(self, c: Conn) -> None:
        """A buyer's `user_online`, as the buyer page sends it on opening, confirmed by the server."""
        if c.slot.role != "user" or not self.plan.user_online or self.plan.scenario not in ("chat", "storm"):
            return
        try:
            await c.client.user_online(c.slot.kefu_id, timeout=SYNC_TIMEOUT)
        except ChatError as exc:
            self.error(f"user_online refused: {exc.message}")
        except (TimeoutError, ChatClosed) as exc:
            self.error(f"user_online: {type(exc).__name__}")

    async def connect_all(self) -> None:
        """Open every connection; heartbeats run from the first one on, as each real client's does
        (connecting thousands takes longer than the server's idle timeout)."""
        self.start_heartbeat()

        async def one(c: Conn) -> None:
            if await self.connect_one(c):
                self.established += 1
                await self.announce(c)
        await asyncio.gather(*(one(c) for c in self.conns))
        self.peak = self.alive()
        # Thousands of long-lived connection objects make every full garbage collection a pause that
        # would show as server latency: move them out of the collector's sight.
        gc.collect()
        gc.freeze()

    def drop(self, c: Conn, delay: float) -> None:
        """Cut the connection without a closing handshake (a network blip) and come back later."""
        c.alive = False
        c.dropped_at = now_us()
        self.count("disconnects")
        client = c.client
        transport = getattr(getattr(client.ws, "_conn", None), "transport", None)
        if transport is not None:
            transport.abort()
        self.spawn(client.close())
        self.spawn(self.reconnect(c, delay))

    def lost(self, c: Conn) -> None:
        """The server (or the network) closed a connection we did not drop."""
        c.alive = False
        c.dropped_at = now_us()
        code = c.client.close_code
        self.error(f"connection lost (close code {code})")
        self.count("disconnects")
        self.spawn(c.client.close())
        if code not in NO_RECONNECT:
            self.spawn(self.reconnect(c, RECONNECT_PAUSE))

    async def reconnect(self, c: Conn, delay: float) -> None:
        await asyncio.sleep(delay)
        for attempt in range(RECONNECT_ATTEMPTS):
            if self.stopping:
                return
            if await self.connect_one(c):
                await self.announce(c)
                try:
                    # Resume: everything missed while away, from the last contiguous seq seen.
                    await c.client.resync_all(timeout=SYNC_TIMEOUT)
                except ChatError as exc:
                    self.error(f"sync refused: {exc.message}")
                except (TimeoutError, ChatClosed) as exc:
                    self.error(f"sync: {type(exc).__name__}")
                self.record("reconnect", now_us() - c.dropped_at)
                self.count("reconnects")
                return
            await asyncio.sleep(RECONNECT_PAUSE)
        self.error("gave up reconnecting")

    # ------------------------------------------------------------------------- frames

    def on_chat(self, c: Conn, data: Any) -> None:
        if not isinstance(data, dict):
            return
        cmid = data.get("client_msg_id")
        if not cmid or not cmid.startswith(self.prefix):
            return
        received = now_us()
        sent_at = c.outstanding.pop(cmid, None)
        conv = c.tracker.conversations.get((data.get("shop_id"), data.get("user_id")))
        if conv is not None and conv.syncing:
            if sent_at is not None and c.waiter is not None:
                self.wake(c, False)
            return                      # a replay: counted by the tracker, not a live latency
        if sent_at is not None:
            self.record("echo", received - sent_at)
            self.count("echoed")
            if c.waiter is not None:
                self.wake(c, False)
            return
        if data.get("from_type") == c.slot.role:
            return                      # another connection's send echoed to this one (its other tab)
        try:
            start = len(self.prefix)
            scheduled = int(cmid[start:cmid.index(".", start)], 16)
        except ValueError:
            return
        self.record("delivery", received - scheduled)
        self.count("delivered")
        if c.slot.role == "kefu":
            self.learn(c, data.get("user_id"))

    def on_error_frame(self, c: Conn, data: Any) -> None:
        self.error("error frame: " + str((data or {}).get("msg", "") if isinstance(data, dict) else data)[:80])
        self.wake(c, True)

    def on_ping(self, c: Conn) -> None:
        if c.ping_sent:
            self.record("ping", now_us() - c.ping_sent_us)
            self.count("pings")
            c.ping_sent = 0.0
            # Silence is counted from this answer: the next ping goes ping_interval after it.
            c.last_rx, c.frames_seen = time.monotonic(), c.client.frames_received

    def on_user_online(self, c: Conn, data: Any) -> None:
        if isinstance(data, dict) and data.get("online") and data.get("kefu_id") == c.slot.kefu_id:
            self.learn(c, data.get("user_id"))

    @staticmethod
    def learn(c: Conn, user_id: Any) -> None:
        if isinstance(user_id, int) and user_id not in c.owned_set:
            c.owned_set.add(user_id)
            c.owned.append(user_id)

    # ------------------------------------------------------------------------- heartbeat

    def start_heartbeat(self) -> None:
        if self.heartbeat_task is None:
            self.heartbeat_task = self.spawn(self.heartbeat())

    def file(self, c: Conn, at: float) -> None:
        """Look at connection `c` again at time `at` (a timing wheel of WHEEL_STEP slots)."""
        slot = max(int(at / WHEEL_STEP) + 1, self.wheel_cursor)   # never into a slot already passed
        self.wheel.setdefault(slot, []).append((c, c.generation))

    async def heartbeat(self) -> None:
        """Heartbeats as the real clients send them, each on its own schedule: a ping after
        ping_interval without any frame; a connection whose ping got nothing back for ping_timeout is
        dropped and reconnected. A timing wheel visits each connection only when its time comes."""
        interval, timeout = self.plan.ping_interval, self.plan.ping_timeout
        self.wheel_cursor = int(time.monotonic() / WHEEL_STEP)
        while not self.stopping:
            await asyncio.sleep(WHEEL_STEP)
            now = time.monotonic()
            due: list[tuple[Conn, int]] = []
            while self.wheel_cursor <= int(now / WHEEL_STEP):
                due.extend(self.wheel.pop(self.wheel_cursor, ()))
                self.wheel_cursor += 1
            for n, (c, generation) in enumerate(due):
                client = c.client
                if generation != c.generation or not c.alive or client is None:
                    continue
                if client.closed.is_set():
                    self.lost(c)
                    continue
                seen = client.frames_received
                if seen != c.frames_seen:
                    c.frames_seen, c.last_rx = seen, now
                if c.ping_sent:
                    if c.last_rx < c.ping_sent:
                        if now - c.ping_sent >= timeout:
                            self.error("ping unanswered")
                            c.ping_sent = 0.0
                            self.drop(c, RECONNECT_PAUSE)
                        else:
                            self.file(c, c.ping_sent + timeout)
                        continue
                    c.ping_sent = 0.0   # answered (or other frames came): back to silence watching
                if now - c.last_rx >= interval:
                    c.ping_sent, c.ping_sent_us = now, now_us()
                    try:
                        await client.ping()
                    except (ChatClosed, ConnectionError, RuntimeError):
                        self.lost(c)
                        continue
                    self.file(c, now + min(timeout, interval))
                else:
                    self.file(c, c.last_rx + interval)
                if n % 64 == 63:
                    await asyncio.sleep(0)   # let answers be read while a long slot is handled

    async def ticker(self, start: float) -> None:
        second = 0
        while not self.stopping:
            second += 1
            await asyncio.sleep(max(0.0, start + second - time.monotonic()))
            self.expire_echo_waits()
            snapshot, self.interval = self.interval, Metrics()
            if self.on_tick is not None:
                self.on_tick({"second": second, "conns": self.alive(), "metrics": snapshot})

    # ------------------------------------------------------------------------- senders

    def next_cmid(self, scheduled_us: int) -> str:
        self.sent_serial += 1
        return f"{self.prefix}{scheduled_us:x}.{self.sent_serial:x}"

    def target_of(self, c: Conn) -> tuple[int, str] | None:
        if c.slot.role == "user":
            return c.slot.kefu_id, "kefu"
        if not c.owned:
            return None
        c.next_owned += 1
        return c.owned[c.next_owned % len(c.owned)], "user"

    async def send(self, c: Conn, to: tuple[int, str], scheduled_us: int, cmid: str | None = None) -> None:
        if cmid is None:
            cmid = self.next_cmid(scheduled_us)
            c.outstanding[cmid] = scheduled_us
        self.count("sent")
        try:
            await c.client.send_chat(to[0], to[1], self.text, 1, cmid, wait=False)
        except (ChatClosed, ConnectionError, RuntimeError) as exc:
            c.outstanding.pop(cmid, None)
            self.error(f"send failed: {type(exc).__name__}")
            if c.alive:
                self.lost(c)
            self.wake(c, True)

    async def open_loop(self, start: float, end: float) -> None:
        """Sends scheduled at `rate` per second from `start`, whatever happens to them."""
        period = 1.0 / self.plan.rate
        buyers = [c for c in self.conns if c.slot.role == "user"]
        kefu = [c for c in self.conns if c.slot.role == "kefu"]
        share = self.plan.kefu_share if kefu else 0.0
        b = k = i = 0
        owed = 0.0
        while self.sending:
            now = time.monotonic()
            due = min(now, end)
            while start + i * period <= due and self.sending:
                scheduled = start + i * period
                i += 1
                sender = to = None
                owed += share
                if owed >= 1.0:
                    owed -= 1.0
                    for _ in range(len(kefu)):
                        k += 1
                        cand = kefu[k % len(kefu)]
                        if cand.alive and cand.owned:
                            sender, to = cand, self.target_of(cand)
                            break
                if sender is None:
                    for _ in range(len(buyers)):
                        b += 1
                        cand = buyers[b % len(buyers)]
                        if cand.alive:
                            sender, to = cand, self.target_of(cand)
                            break
                if sender is None:
                    self.count("skipped_offline")
                    continue
                await self.send(sender, to, int(scheduled * 1_000_000))
            if now >= end:
                return
            await asyncio.sleep(max(SEND_TICK, start + i * period - time.monotonic()))

    async def closed_loop_sender(self, c: Conn) -> None:
        """One buyer sending its next message as soon as the last one came back.

        Sends without the client's waited path (`send_chat(wait=True)`): that path costs a
        wait_for, a shield and, once the echo has settled it, a failing deque.remove whose error
        message is the repr of the request (future and record included), several times the cost
        of the send itself. The echo wakes this sender through `c.waiter` instead (see on_chat);
        an `error` frame wakes it too (on_error_frame)."""
        loop = asyncio.get_running_loop()
        while self.sending:
            if not c.alive:
                await asyncio.sleep(0.05)
                continue
            scheduled = now_us()
            cmid = self.next_cmid(scheduled)
            c.outstanding[cmid] = scheduled
            c.waiter = waiter = loop.create_future()
            c.waiting_since = scheduled
            await self.send(c, (c.slot.kefu_id, "kefu"), scheduled, cmid)
            try:
                outcome = await waiter     # bounded: the ticker expires waits past ECHO_TIMEOUT
            finally:
                c.waiter = None
            if outcome is TIMED_OUT:
                if c.alive:
                    self.error("echo timeout")
            elif outcome:
                await asyncio.sleep(0.01)   # counted from its error frame; do not spin on a refusal

    def expire_echo_waits(self) -> None:
        """Wake closed-loop senders whose echo is over ECHO_TIMEOUT late. Once a second for all of
        them: a timer per message (asyncio.timeout) was ~4 % of the closed loop's profile."""
        oldest = now_us() - int(ECHO_TIMEOUT * 1_000_000)
        for c in self.conns:
            if c.waiter is not None and not c.waiter.done() and c.waiting_since < oldest:
                c.waiter.set_result(TIMED_OUT)

    @staticmethod
    def wake(c: Conn, refused: bool | str) -> None:
        if c.waiter is not None and not c.waiter.done():
            c.waiter.set_result(refused)

    async def storms(self, end: float) -> None:
        while self.sending:
            await asyncio.sleep(min(self.plan.storm_interval, max(0.0, end - time.monotonic())))
            if not self.sending or time.monotonic() >= end:
                return
            up = [c for c in self.conns if c.alive]
            for c in random.sample(up, int(len(up) * self.plan.storm_fraction)):
                self.drop(c, random.uniform(0.0, self.plan.reconnect_delay))
            self.count("storms")

    # ------------------------------------------------------------------------- the run

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self, start: float) -> dict[str, Any]:
        """Run the scenario from `start` (time.monotonic()), then drain, check and close."""
        plan = self.plan
        measure_from = start + plan.warmup
        end = measure_from + plan.duration
        self.start_heartbeat()
        background = [self.heartbeat_task, self.spawn(self.ticker(start))]
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        if not plan.warmup:
            self.start_measuring()
        self.sending = plan.scenario != "idle"
        senders: list[asyncio.Task] = []
        if self.sending:
            if plan.rate:
                senders.append(self.spawn(self.open_loop(start, end)))
            else:
                buyers = [c for c in self.conns if c.slot.role == "user"]
                senders += [self.spawn(self.closed_loop_sender(c)) for c in buyers[:plan.concurrency or None]]
            if plan.scenario == "storm":
                senders.append(self.spawn(self.storms(end)))
        if plan.warmup:
            await self.until_finished(measure_from)
            self.start_measuring()
        await self.until_finished(end)
        self.sending = False
        self.phases["measure_end"] = time.monotonic()
        await asyncio.gather(*senders, return_exceptions=True)
        await self.drain()
        self.phases["drained"] = time.monotonic()
        if plan.final_check and plan.scenario in ("chat", "storm"):
            await self.final_check()
        self.stopping = True
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        result = self.result()
        await self.close()
        return result

    def finish(self) -> None:
        """End the measured phase now rather than at its planned end; the run then drains, checks
        and reports as usual. For a caller that stops on an event (a test) instead of a duration."""
        self.finished.set()

    async def until_finished(self, at: float) -> None:
        """Sleep until time `at` (time.monotonic()), or until finish() is called."""
        try:
            await asyncio.wait_for(self.finished.wait(), max(0.0, at - time.monotonic()))
        except asyncio.TimeoutError:
            pass

    async def drain(self) -> None:
        """Wait (bounded) for the echoes of what was sent and for reconnections under way; stop
        early once nothing has come back for a second (a refused send never gets its echo)."""
        deadline = time.monotonic() + self.plan.drain
        progress, moved_at = -1, time.monotonic()
        while time.monotonic() < deadline:
            waiting = any(c.outstanding for c in self.conns if c.alive)
            away = any(not c.alive and c.client is not None for c in self.conns)
            if not waiting and not away:
                return
            now = time.monotonic()
            seen = self.metrics.counters["echoed"] + self.metrics.counters["delivered"]
            if seen != progress:
                progress, moved_at = seen, now
            elif not away and now - moved_at > 1.0:
                return
            await asyncio.sleep(0.05)

    async def final_check(self) -> None:
        """Every buyer syncs its conversation once more: whatever that replays was never received."""
        buyers = [c for c in self.conns if c.slot.role == "user" and c.alive]
        known = lambda: sum(len(v.by_seq) for c in buyers for v in c.tracker.conversations.values())
        before = known()
        gate = asyncio.Semaphore(256)

        async def one(c: Conn) -> None:
            async with gate:
                try:
                    await c.client.resync_all(timeout=SYNC_TIMEOUT)
                except (TimeoutError, ChatError, ChatClosed) as exc:
                    self.error(f"final sync: {type(exc).__name__}")
        await asyncio.gather(*(one(c) for c in buyers))
        self.final["missing_at_end"] = known() - before

    def result(self) -> dict[str, Any]:
        buyers = [c for c in self.conns if c.slot.role == "user"]
        convs = [v for c in self.conns for v in c.tracker.conversations.values()]
        buyer_convs = [v for c in buyers for v in c.tracker.conversations.values()]
        m = self.metrics
        m.counters["gaps"] += sum(len(v.missing()) for v in buyer_convs)
        m.counters["holes_opened"] += sum(v.gaps for v in buyer_convs)
        m.counters["duplicates"] += sum(v.duplicates for v in convs)
        m.counters["replayed"] += sum(v.replayed for v in convs)
        m.counters["missing_at_end"] += self.final.get("missing_at_end", 0)
        m.counters["unanswered"] += sum(len(c.outstanding) for c in self.conns)
        conflicts = sum(v.conflicts for v in convs)
        if conflicts:
            m.errors["sequence conflict (one seq, two records)"] += conflicts
        return {"metrics": m, "established": self.established, "peak": max(self.peak, self.alive()),
                "alive_at_end": self.alive(), "planned": len(self.conns), "phases": self.phases}

    async def close(self) -> None:
        self.stopping = True
        gate = asyncio.Semaphore(CLOSE_CONCURRENCY)

        async def one(client: ChatClient) -> None:
            async with gate:
                try:
                    await client.close()
                except Exception:   # closing is best effort; the process is about to end anyway
                    pass
        await asyncio.gather(*(one(c.client) for c in self.conns if c.client is not None))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self.sessions:
            await session.close()
