"""Property-based fuzzing of the WebSocket endpoint (spec §3, README "Close codes").

One live server per test and one connection, reused across examples (re-opened when the server
closed it). Hypothesis generates frames of every kind — random JSON of every shape, near misses
(one field of a valid event with a wrong type or a bad value, a required field missing, data of the
wrong shape, unknown or internal event names, another role's events), strings within and beyond
the frame limit, text that is not JSON, invalid UTF-8, binary frames — and after each one:

* a frame that is bad by construction gets exactly one `error` frame and the connection stays
  open, or the connection is closed with its documented code: 1008 (binary, not JSON, invalid
  UTF-8) after one `error` frame saying why, 1009 (too large); 4008 (rate limited) is accepted at
  any point (the limits are off here: they have tests of their own);
* whatever the frame, the connection either answers a following `sync` probe (events are handled
  in order, so everything the frame caused arrives before the probe's answer) or was closed with a
  documented code — never silence, never an undocumented close;
* no `error` frame says "busy" (the database is fine: a busy answer here is a handler crash) and
  the server logs nothing at ERROR;
* a fresh connection still works: greeting, then ping → ping.

Hypothesis runs in a worker thread (its engine is synchronous); every probe runs on the test's
event loop, where the server lives. Derandomized: a failure reproduces on every run.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import AsyncIterator

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.settings import Settings
from tests.chat_server.conftest import Chat

MAX_EXAMPLES = 300
BUSY = "服务繁忙，请稍后再试"
DOCUMENTED_CLOSES = {1008, 1009, 4008}
ANY_TIME_CLOSES = {4008}            # rate limiting may answer any frame
PROBE_BASE = 4_000_000_000_000     # after_seq of probe syncs: nothing is ever after it

# What the fuzzed principals send to (set up by the fixture): buyer 7 and agent 2 of shop 1.
USER_ID, KEFU_ID, SHOP_ID = 7, 2, 1

ROLE_EVENTS = {"user": {"ping", "chat", "user_online", "read", "sync", "typing"},
               "kefu": {"ping", "chat", "transfer", "read", "sync", "typing"}}
CLIENT_EVENTS = ROLE_EVENTS["user"] | ROLE_EVENTS["kefu"]


@dataclass(frozen=True)
class Case:
    """One generated frame and what the server must do with it."""
    kind: str                     # "text" | "bytes-text" | "binary"
    payload: str | bytes
    expect: str                   # "error" (one error frame, still open), "close:<code>", "any" (valid: no
                                  # crash, at most one error frame), or several joined by "|"
    why: str

    def __repr__(self) -> str:    # hypothesis prints this for a falsifying example
        shown = self.payload if len(self.payload) <= 300 else self.payload[:300] + f"... ({len(self.payload)})"
        return f"Case({self.kind}, expect={self.expect}, why={self.why!r}, payload={shown!r})"


def text(obj, why: str, expect: str = "error") -> Case:
    return Case("text", json.dumps(obj, ensure_ascii=False), expect, why)


# ------------------------------------------------------------------------------- strategies

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-2 ** 80, max_value=2 ** 80)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8) | st.sampled_from(
                               ["event", "data", "msg", "msg_type", "to_id", "to_type", "shop_id", "user_id",
                                "kefu_id", "after_seq", "client_msg_id"]), inner, max_size=5), max_leaves=12)
event_names = st.sampled_from(sorted(CLIENT_EVENTS) + ["login", "close", "error", "notice", "resync", "Chat",
                                                       "PING", " chat", "chat\u0000", "", "user-online"]) \
    | st.text(max_size=12)


def valid_data(role: str) -> dict[str, dict]:
    """A valid `data` per event this role may send (the fixture makes them meaningful)."""
    if role == "user":
        return {"chat": {"msg": "你好", "msg_type": 1, "to_id": KEFU_ID, "to_type": "kefu"},
                "user_online": {"kefu_id": KEFU_ID}, "read": {"shop_id": SHOP_ID},
                "sync": {"shop_id": SHOP_ID, "after_seq": 0}, "typing": {"to_id": KEFU_ID, "to_type": "kefu"},
                "ping": {}}
    return {"chat": {"msg": "您好", "msg_type": 1, "to_id": USER_ID, "to_type": "user"},
            "transfer": {"user_id": USER_ID, "kefu_id": 3}, "read": {"shop_id": SHOP_ID, "user_id": USER_ID},
            "sync": {"shop_id": SHOP_ID, "user_id": USER_ID, "after_seq": 0},
            "typing": {"to_id": USER_ID, "to_type": "user"}, "ping": {}}


# Values of the wrong JSON type, by the field's type in the spec.
NOT_INT = [[], {}, None, True, False, 1.5, "abc", [1], {"a": 1}]
NOT_ID = [[], {}, None, True, False, 1.5, [7], {"id": 7}]
NOT_STR = [[], {}, None, True, 1, 2.5, ["kefu"]]
NOT_MSG = [[], {}, None, True, 1.5, ["hi"]]
NOT_OPT_ID = [[], {}, True, False, 1.5, [2]]
NOT_OPT_STR = [[], {}, 1, True, ["x"]]
OUT_OF_RANGE = [2 ** 63, 2 ** 64, 2 ** 70, -(2 ** 63) - 1, -1]

# (event, field) → values that are wrong for it, for each role: a wrong type everywhere, plus the
# wrong values the spec refuses for that role (another shop, an impossible id, a bad recipient).
def wrong_values(role: str) -> dict[tuple[str, str], list]:
    other_shop = [2, "2", 0]
    common = {
        ("chat", "msg"): NOT_MSG + ["", "   ", "\n\t"],
        ("chat", "msg_type"): NOT_INT + [0, 4, 9, -1, "9"] + OUT_OF_RANGE,
        ("chat", "to_id"): NOT_ID,
        ("chat", "to_type"): NOT_STR + ["admin", "", "KEFU", "User" if role == "kefu" else "Kefu"],
        ("chat", "client_msg_id"): NOT_OPT_STR + ["", "x" * 65],
        ("sync", "shop_id"): NOT_ID + other_shop + ["abc", -1],
        ("sync", "after_seq"): NOT_INT + OUT_OF_RANGE,
        ("read", "shop_id"): NOT_OPT_ID + other_shop,
        ("typing", "to_id"): NOT_ID,
        ("typing", "to_type"): NOT_STR,
    }
    if role == "user":
        return {**common, ("user_online", "kefu_id"): NOT_OPT_ID, ("read", "user_id"): NOT_OPT_ID,
                ("sync", "user_id"): NOT_OPT_ID + [USER_ID + 1, "8"]}
    return {**common, ("chat", "to_id"): NOT_ID + ["abc", -1, 999999, 0],
            ("transfer", "user_id"): NOT_ID + ["abc", -1, 999999], ("transfer", "kefu_id"): NOT_ID + ["abc", -1, 2, 4],
            ("read", "user_id"): NOT_OPT_ID + [None, "abc", 999999],
            ("sync", "user_id"): NOT_OPT_ID + [None, "abc", -1],
            # (a kefu typing to a kefu: see test_a_bad_typing_frame_gets_an_error_even_right_after_a_good_one;
            # whether it is answered depends on the timing of the previous typing frame today)
            ("typing", "to_type"): NOT_STR}


REQUIRED = {"chat": ["msg", "msg_type", "to_id", "to_type"], "transfer": ["user_id", "kefu_id"],
            "sync": ["shop_id", "after_seq"], "typing": ["to_id", "to_type"]}


def families(role: str, frame_limit: int, text_limit: int) -> dict[str, st.SearchStrategy[Case]]:
    """The generated frames, in three families: JSON text frames, frames around the size limits,
    and frames that are not JSON text at all."""
    valid = valid_data(role)
    wrong = wrong_values(role)
    allowed = ROLE_EVENTS[role]
    others = sorted(CLIENT_EVENTS - allowed)

    def named(obj) -> Case:
        """Random JSON: bad unless it is an object naming an event this role may send."""
        if isinstance(obj, dict) and isinstance(obj.get("event"), str) and obj["event"] in allowed:
            return text(obj, "random JSON naming an allowed event", "any")
        return text(obj, "random JSON that is no event of this role")

    near_miss = st.sampled_from(sorted(wrong)).flatmap(lambda key: st.tuples(st.just(key), st.sampled_from(wrong[key]))
                                                       ).map(lambda kv: text(
        {"event": kv[0][0], "data": {**valid[kv[0][0]], kv[0][1]: kv[1]}}, f"{kv[0][0]}.{kv[0][1]} = {kv[1]!r}"))
    missing = st.sampled_from([(e, f) for e, fs in REQUIRED.items() if e in allowed for f in fs]).map(
        lambda ef: text({"event": ef[0], "data": {k: v for k, v in valid[ef[0]].items() if k != ef[1]}},
                        f"{ef[0]} without {ef[1]}"))
    bad_shape = st.tuples(st.sampled_from(sorted(allowed - {"ping"})),
                          st.sampled_from([[], "x", 1, True, [{}], None])).map(
        lambda ed: text({"event": ed[0], "data": ed[1]}, f"{ed[0]} with data {ed[1]!r}"))
    no_data = st.sampled_from(sorted(REQUIRED)).filter(lambda e: e in allowed).map(
        lambda e: text({"event": e}, f"{e} without data"))
    wrong_name = st.tuples(event_names, st.sampled_from(list(valid.values()))).filter(
        lambda nd: nd[0] not in CLIENT_EVENTS).map(lambda nd: text({"event": nd[0], "data": nd[1]},
                                                                    f"event {nd[0]!r}"))
    other_role = st.sampled_from(others).map(lambda e: text(
        {"event": e, "data": valid_data("kefu" if role == "user" else "user").get(e, {})}, f"{e} from a {role}"))
    random_event = st.tuples(event_names, json_values).map(lambda nd: named({"event": nd[0], "data": nd[1]}))
    well_formed = st.sampled_from(sorted(allowed)).map(lambda e: text({"event": e, "data": valid[e]},
                                                                      f"a valid {e}", "any"))
    long_text = st.one_of(
        st.integers(min_value=text_limit + 1, max_value=frame_limit - 400).map(lambda n: "a" * n),
        st.integers(min_value=text_limit + 1, max_value=(frame_limit - 400) // 3).map(lambda n: "长" * n),
    ).map(lambda msg: text({"event": "chat", "data": {**valid["chat"], "msg": msg}},
                           f"text of {len(msg)} characters (limit {text_limit})"))
    at_limit = st.just(text({"event": "chat", "data": {**valid["chat"], "msg": "b" * text_limit}},
                            "text exactly at the limit", "any"))
    too_large = st.integers(min_value=frame_limit + 1, max_value=frame_limit * 4).map(lambda n: Case(
        "text", json.dumps({"event": "chat", "data": {**valid["chat"], "msg": "c" * n}}), "close:1009",
        f"a frame of more than {frame_limit} bytes"))
    not_json = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "{", "}", "[", "NaN", "Infinity",
                                                                 '{"event":"ping"', '{"event":"ping"} {}',
                                                                 "{'event':'ping'}", '{"event":"ping",}', "\x00",
                                                                 '{"event":"chat","data":{"msg":"\\ud800"}}']))
    # Not JSON: closed 1008, or (msgspec validates while it parses: "0:" fails on its first value
    # before the stray ":") answered with one error frame like any JSON of the wrong shape.
    not_json = not_json.filter(lambda s: not _is_json(s)).map(lambda s: Case("text", s, "close:1008|error", "not JSON"))
    bad_utf8 = st.one_of(
        st.binary(min_size=1, max_size=40).filter(lambda b: not _is_utf8(b)),
        st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]).flatmap(
            lambda bad: st.sampled_from([
                b'{"event":"ping","data":"' + bad + b'"}',
                b'{"event":"chat","data":{"msg":"hi' + bad + b'","msg_type":1,"to_id":2,"to_type":"kefu"}}',
                b'{"event":"p' + bad + b'ing"}', bad + b'{"event":"ping"}'])),
    ).map(lambda b: Case("bytes-text", b, "close:1008", "invalid UTF-8 in a text frame"))
    binary = st.one_of(st.binary(max_size=64), st.just(b'{"event":"ping"}')).map(
        lambda b: Case("binary", b, "close:1008", "a binary frame"))
    # Valid frames with hostile values: any text (control characters, NUL, astral planes), any
    # client_msg_id, ids and seqs of any size. Served or refused with one error, never "busy".
    big_ints = st.sampled_from(OUT_OF_RANGE) | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    hostile = st.one_of(
        st.tuples(st.text(min_size=1, max_size=30), st.none() | st.text(max_size=70)).map(lambda mc: text(
            {"event": "chat", "data": {**valid["chat"], "msg": mc[0],
                                       **({} if mc[1] is None else {"client_msg_id": mc[1]})}},
            "a chat with any text and client_msg_id", "any")),
        big_ints.map(lambda n: text({"event": "sync", "data": {**valid["sync"], "after_seq": n}},
                                    f"sync after {n}", "any")),
        st.tuples(st.sampled_from(sorted((e, f) for e, f in wrong if e in valid)), big_ints | st.text(max_size=20)
                  ).map(lambda kv: text({"event": kv[0][0], "data": {**valid[kv[0][0]], kv[0][1]: kv[1]}},
                                        f"{kv[0][0]}.{kv[0][1]} = {kv[1]!r}", "any")),
    )
    return {
        # near misses and hostile values weigh three times as much as the other kinds
        "json": st.one_of(random_event, json_values.map(named), near_miss, near_miss, near_miss, missing, bad_shape,
                          no_data, wrong_name, other_role, well_formed, hostile, hostile, hostile),
        "size": st.one_of(long_text, at_limit, too_large),
        "not json": st.one_of(not_json, bad_utf8, binary),
    }


def _is_json(s: str) -> bool:
    try:
        orjson.loads(s)
        return True
    except orjson.JSONDecodeError:
        return False


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ------------------------------------------------------------------------------- the probe

@pytest.fixture
async def chat_settings(settings_env: dict, commerce_server) -> Settings:
    """The `live` server's settings without rate limits: the fuzzing is about what frames say, and
    it sends a few frames and opens a connection per example (the limits have tests of their own)."""
    return Settings.from_env({**settings_env, "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/"),
                              "COMMERCE_TIMEOUT_MS": "1000", "CHAT_RATE_PER_CONNECTION": "0",
                              "CHAT_RATE_PER_PRINCIPAL": "0", "CHAT_CONNECTION_RATE_PER_IP": "0"})


class ServerErrors(logging.Handler):
    """ERROR records of the server's loggers (a handler crash, aiohttp's "Error handling request")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []
        self._lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("kefu", "aiohttp")):
            with self._lock_:
                self.records.append(f"{record.name}: {record.getMessage()} {record.exc_text or ''}".strip())

    def take(self) -> list[str]:
        with self._lock_:
            taken, self.records = self.records, []
        return taken


class Fuzzer:
    def __init__(self, live: Chat, role: str, token: str):
        self.live, self.role, self.token = live, role, token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.probes = 0
        self.outcomes: dict[str, int] = {}

    @property
    def query(self) -> str:
        client = 6 if self.role == "user" else 5
        return f"/?token={self.token}&type={self.role}&client={client}&shop_id={SHOP_ID}"

    async def open(self) -> aiohttp.ClientWebSocketResponse:
        ws = await self.live.client.session.ws_connect(self.live.client.make_url(self.query), autoping=True,
                                                       max_msg_size=0)
        greeting = []
        for _ in range(2):
            msg = await ws.receive(timeout=5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"a new connection was refused: {msg.type} {msg.data!r} {msg.extra!r}, "
                                     f"close code {ws.close_code}, after {greeting}")
            greeting.append(orjson.loads(msg.data)["event"])
        assert greeting == ["ping", "login"], greeting
        return ws

    async def connection(self) -> aiohttp.ClientWebSocketResponse:
        if self.ws is None or self.ws.closed:
            self.ws = await self.open()
        return self.ws

    async def frames_until_probe(self, ws, nonce: int) -> tuple[list[dict], int | None]:
        """Frames (pings aside) until the probe's answer; or until the close, with its code."""
        frames = []
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = orjson.loads(msg.data)
                if frame["event"] == "sync" and frame["data"].get("last_seq") == nonce:
                    return frames, None
                if frame["event"] != "ping":
                    frames.append(frame)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return frames, ws.close_code
            else:   # ERROR: the stream itself broke (e.g. bytes that are no WebSocket frame)
                raise AssertionError(f"the connection broke instead of closing: {msg.type} {msg.data!r}")

    async def probe(self, case: Case) -> None:
        ws = await self.connection()
        if case.kind == "text":
            await ws.send_str(case.payload)
        elif case.kind == "bytes-text":
            await ws.send_frame(case.payload, aiohttp.WSMsgType.TEXT)
        else:
            await ws.send_bytes(case.payload)
        self.probes += 1
        nonce = PROBE_BASE + self.probes
        probe = {"shop_id": SHOP_ID, "after_seq": nonce}
        if self.role == "kefu":
            probe["user_id"] = 0
        try:
            await ws.send_str(orjson.dumps({"event": "sync", "data": probe}).decode())
        except (ConnectionError, RuntimeError):
            pass   # already closed by the server: the close is read below
        try:
            frames, code = await self.frames_until_probe(ws, nonce)
        except asyncio.TimeoutError:
            raise AssertionError(f"silence: no answer, no close within 5 s for {case!r}") from None
        except AssertionError as exc:
            raise AssertionError(f"{exc} after {case!r}") from None
        errors = [f["data"]["msg"] for f in frames if f["event"] == "error"]
        outcome = f"close:{code}" if code is not None else ("error" if errors else "answered")
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

        assert BUSY not in errors, f"a handler failed (busy) on {case!r}: {frames}"
        if code is not None:
            assert code in DOCUMENTED_CLOSES, f"undocumented close {code} for {case!r} (frames {frames})"
            if code == 1008:    # the server's own refusal says why (1009 is aiohttp's, before any handler)
                assert len(errors) == 1, f"close 1008 not preceded by exactly one error frame: {frames} ({case!r})"
        else:
            assert len(errors) <= 1, f"more than one error frame for {case!r}: {frames}"
        allowed = set(case.expect.split("|")) | {f"close:{c}" for c in ANY_TIME_CLOSES}
        if "any" in allowed:
            allowed |= {"error", "answered"}
        assert outcome in allowed, f"{outcome} for {case!r}, expected {case.expect}; frames {frames}"

    async def fresh_connection_works(self) -> None:
        ws = await self.open()
        try:
            await ws.send_str('{"event":"ping"}')
            answer = orjson.loads((await ws.receive(timeout=5)).data)
            assert answer["event"] == "ping" and isinstance(answer["data"]["client_time"], int), answer
        finally:
            await ws.close()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def fuzz(live: Chat, role: str, family: str, max_examples: int) -> dict[str, int]:
    """Run hypothesis in a thread; each example is probed on this loop, where the server runs."""
    loop = asyncio.get_running_loop()
    token = await (live.user_token(USER_ID) if role == "user" else live.kefu_token(KEFU_ID))
    fuzzer = Fuzzer(live, role, token)
    errors = ServerErrors()
    logging.getLogger().addHandler(errors)
    s = live.settings

    def on_loop(coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(families(role, s.max_frame_bytes, s.max_text_length)[family])
    def examples(case: Case) -> None:
        errors.take()           # anything logged before this example is not its doing
        try:
            on_loop(fuzzer.probe(case))
            on_loop(fuzzer.fresh_connection_works())
        finally:
            if fuzzer.ws is None or fuzzer.ws.closed:
                on_loop(asyncio.sleep(0.05))    # a closed connection's handler ends (and logs) after the close
        logged = errors.take()
        assert not logged, f"the server logged errors for {case!r}: {logged}"

    try:
        async with conversation(live):
            await asyncio.to_thread(examples)
    finally:
        logging.getLogger().removeHandler(errors)
        await fuzzer.close()
    return fuzzer.outcomes


@contextlib.asynccontextmanager
async def conversation(live: Chat) -> AsyncIterator[None]:
    """Buyer 7 talking to agent 2 (shop 1), so that valid events do something real; agent 3 online
    (a transfer target). Their sockets are drained in the background meanwhile."""
    kefu2 = await live.kefu(KEFU_ID)
    kefu3 = await live.kefu(3)
    user = await live.user(USER_ID, shop_id=SHOP_ID)
    await user.send("user_online", {"kefu_id": KEFU_ID})
    await kefu2.expect("user_online")
    drains = [asyncio.ensure_future(_drain(s)) for s in (kefu2, kefu3, user)]
    try:
        yield
    finally:
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)


async def _drain(sock) -> None:
    while not sock.ws.closed:
        msg = await sock.ws.receive()
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return


@pytest.mark.parametrize("role", ["user", "kefu"])
async def test_json_frames_get_one_error_or_are_served(live, role):
    outcomes = await fuzz(live, role, "json", MAX_EXAMPLES)
    # the run exercised refusals and service both
    assert outcomes.get("error", 0) > MAX_EXAMPLES // 4 and outcomes.get("answered", 0) > 5, outcomes


async def test_frames_around_the_size_limits(live):
    outcomes = await fuzz(live, "user", "size", 25)
    assert outcomes.get("error", 0) > 3 and outcomes.get("close:1009", 0) > 3, outcomes


async def test_frames_that_are_not_json_text_are_closed_1008(live):
    outcomes = await fuzz(live, "user", "not json", 100)
    assert outcomes.get("close:1008", 0) > 40, outcomes


# ------------------------------------------------------------------ what the fuzzing found
# Each a deterministic reproduction of a failure the properties above report, named for the rule.

async def probe_once(live: Chat, role: str, case: Case) -> list[str]:
    """Probe one case on a fresh connection; returns what the server logged at ERROR."""
    errors = ServerErrors()
    logging.getLogger().addHandler(errors)
    token = await (live.user_token(USER_ID) if role == "user" else live.kefu_token(KEFU_ID))
    fuzzer = Fuzzer(live, role, token)
    try:
        await fuzzer.probe(case)
        await fuzzer.fresh_connection_works()
        await asyncio.sleep(0.05)
        return errors.take()
    finally:
        logging.getLogger().removeHandler(errors)
        await fuzzer.close()


@pytest.mark.parametrize("payload", [b'{"event":"ping","data":"\xff"}', b'{"event":"p\xffing"}',
                                     b'{"event":"chat","data":{"msg":"\xed\xa0\x80","msg_type":1,"to_id":2,'
                                     b'"to_type":"kefu"}}'])
async def test_invalid_utf8_in_a_text_frame_is_closed_1008(live, payload):
    """Invalid UTF-8 inside a JSON string is not JSON text: one error frame, then close 1008 — not a
    handler crash whose HTTP 500 response is written into the WebSocket stream."""
    assert await probe_once(live, "user", Case("bytes-text", payload, "close:1008", "invalid UTF-8")) == []


@pytest.mark.parametrize("role,event,data", [
    ("user", "sync", {"shop_id": SHOP_ID, "after_seq": 2 ** 63}),
    ("kefu", "sync", {"shop_id": SHOP_ID, "user_id": USER_ID, "after_seq": 2 ** 63}),
    ("kefu", "sync", {"shop_id": SHOP_ID, "user_id": 2 ** 40, "after_seq": 0}),
    ("kefu", "chat", {"msg": "hi", "msg_type": 1, "to_id": 2 ** 40, "to_type": "user"}),
    ("kefu", "read", {"shop_id": SHOP_ID, "user_id": 2 ** 40}),
    ("kefu", "transfer", {"user_id": USER_ID, "kefu_id": 2 ** 40}),
    ("kefu", "transfer", {"user_id": 2 ** 40, "kefu_id": 3}),
])
async def test_numbers_beyond_the_columns_get_an_error_frame_not_busy(live, role, event, data):
    """An id or seq that no row can have (beyond int4 / int8) is a bad value: one error frame, no
    crash in the handler (which answers "busy" and logs a traceback today)."""
    async with conversation(live):
        logged = await probe_once(live, role, text({"event": event, "data": data}, "out of range", "error"))
    assert logged == []


@pytest.mark.parametrize("data", [
    {"msg": "a\u0000b", "msg_type": 1, "to_id": KEFU_ID, "to_type": "kefu"},
    {"msg": "ok", "msg_type": 1, "to_id": KEFU_ID, "to_type": "kefu", "client_msg_id": "id\u0000"},
])
async def test_nul_characters_are_refused_or_stored_never_busy(live, data):
    """Postgres text cannot hold U+0000: the server must refuse it (one error frame) or strip it —
    not fail in the database and answer "busy"."""
    async with conversation(live):
        assert await probe_once(live, "user", text({"event": "chat", "data": data}, "NUL", "any")) == []


async def test_a_bad_typing_frame_gets_an_error_even_right_after_a_good_one(live):
    """The typing throttle drops repeats silently; a frame with a bad recipient is not a repeat and
    must still get its error frame (today it is dropped silently within 2 s of a forwarded one)."""
    token = await live.kefu_token(KEFU_ID)
    fuzzer = Fuzzer(live, "kefu", token)
    try:
        async with conversation(live):
            await fuzzer.probe(text({"event": "typing", "data": {"to_id": USER_ID, "to_type": "user"}}, "good", "any"))
            await fuzzer.probe(text({"event": "typing", "data": {"to_id": USER_ID, "to_type": "kefu"}},
                                    "a kefu typing to a kefu", "error"))
    finally:
        await fuzzer.close()
