"""`kefu loadtest` against a live chat server and commerce API: each scenario briefly, the summary
checked for sense (messages delivered, no gaps or duplicates in a clean run, reconnects in a storm),
worker processes, the JSON document, and the refusal of targets that are not loopback."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from shared.demo_data import seed_bulk_buyers, seed_bulk_kefu
from shared.loadtest import engine
from shared.loadtest.cli import parse
from shared.loadtest.metrics import Histogram, Metrics, summary_text
from shared.loadtest.report import write_histogram
from shared.loadtest.runner import LoadTestError, run_loadtest
from tests.chat_server.conftest import chat_settings, commerce_server, live  # noqa: F401  (fixtures)

KEFU = str(Path(sys.executable).parent / "kefu")


@pytest.fixture
def settings_env(settings_env: dict) -> dict:
    """A chat server configured for load testing: the per-address and per-connection rate limits,
    which would (rightly) throttle a single load generator, are off."""
    return {**settings_env, "CHAT_CONNECTION_RATE_PER_IP": "0", "CHAT_RATE_PER_CONNECTION": "0",
            "CHAT_RATE_PER_PRINCIPAL": "0", "DB_POOL_MAX": "10"}


def ws(url) -> str:
    return "ws" + str(url)[len("http"):]


def options(live, commerce_server, scenario: str, *extra: str) -> list[str]:
    return [scenario, "--url", ws(live.ws_base), "--commerce-url", str(commerce_server.make_url("")).rstrip("/"),
            "--quiet", *extra]


def clean(result: dict) -> None:
    """What every clean run must show."""
    c = result["counters"]
    assert result["errors"] == {}, result["errors"]
    assert c.get("gaps", 0) == 0 and c.get("duplicates", 0) == 0 and c.get("missing_at_end", 0) == 0
    assert result["connections"]["established"] == result["connections"]["planned"]
    for name, s in result["latency"].items():
        if s["count"]:
            assert 0 <= s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"] + 0.001, (name, s)


async def test_chat_open_loop_delivers_every_message_once(live, commerce_server):
    args = parse(options(live, commerce_server, "chat", "--connections", "20", "--rate", "80", "--duration", "2"))
    result = await run_loadtest(args, out=None)
    clean(result)
    c = result["counters"]
    assert result["connections"]["planned"] == 24           # 20 buyers + the 4 demo kefu
    assert c["sent"] >= 150 and c["delivered"] > 0 and c["echoed"] > 0
    # Each message is delivered to its recipient and echoed to its sender, once.
    assert c["delivered"] <= c["sent"] and c["echoed"] <= c["sent"] and c["unanswered"] == 0
    assert result["latency"]["delivery"]["count"] == c["delivered"]
    assert 60 <= result["throughput"]["sent_per_s"] <= 100
    # Stored, as the chat server promises, before anyone was told: one row per sent message.
    stored = await live.db.fetchval("SELECT count(*) FROM chat_record WHERE client_msg_id LIKE $1",
                                    "%.%.%")
    assert stored >= c["echoed"]
    assert "throughput" in summary_text(result) and "errors: none" in summary_text(result)


async def test_chat_closed_loop(live, commerce_server):
    args = parse(options(live, commerce_server, "chat", "--connections", "10", "--closed-loop", "--duration", "2",
                         "--kefu", "shop1,shop1b"))
    result = await run_loadtest(args, out=None)
    clean(result)
    c = result["counters"]
    assert c["echoed"] > 20 and c["delivered"] > 20
    assert result["connections"]["planned"] == 12
    assert result["throughput"]["offered_per_s"] is None


async def test_idle_connections_heartbeat(live, commerce_server):
    args = parse(options(live, commerce_server, "idle", "--connections", "40", "--duration", "3",
                         "--ping-interval", "1", "--source-addrs", "3"))
    result = await run_loadtest(args, out=None)
    clean(result)
    assert result["sources"] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert result["connections"]["peak"] == 40 and result["counters"].get("sent", 0) == 0
    # every connection pings about once a second and every ping is answered
    assert result["counters"]["pings"] >= 40 * 2
    assert result["latency"]["ping"]["count"] == result["counters"]["pings"]


async def test_storm_resumes_without_gaps_or_duplicates(live, commerce_server, db_dsn, tmp_path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(await seed_bulk_buyers(db_dsn, 30)) + "\n")
    args = parse(options(live, commerce_server, "storm", "--tokens", str(tokens), "--connections", "30",
                         "--rate", "60", "--duration", "3", "--storm-interval", "1", "--storm-fraction", "0.5",
                         "--reconnect-delay", "0.2"))
    result = await run_loadtest(args, out=None)
    c = result["counters"]
    assert c["storms"] >= 2 and c["disconnects"] >= 20 and c["reconnects"] == c["disconnects"]
    assert result["latency"]["reconnect"]["count"] == c["reconnects"]
    assert c["delivered"] > 0
    # Messages sent while a side was away reached it through `sync`, none twice, none lost.
    assert c["gaps"] == 0 and c["duplicates"] == 0 and c["missing_at_end"] == 0
    assert result["errors"] == {}, result["errors"]


async def test_chat_with_token_files_for_buyers_and_kefu(live, commerce_server, db_dsn, tmp_path):
    buyers, agents = tmp_path / "buyers.txt", tmp_path / "kefu.txt"
    buyers.write_text("\n".join(await seed_bulk_buyers(db_dsn, 40)) + "\n")
    agents.write_text("".join(f"{k} {s} {t}\n" for k, s, t in await seed_bulk_kefu(db_dsn, 8)))
    args = parse(options(live, commerce_server, "chat", "--tokens", str(buyers), "--kefu-tokens", str(agents),
                         "--connections", "40", "--rate", "100", "--kefu-share", "0.3", "--duration", "2"))
    result = await run_loadtest(args, out=None)
    clean(result)
    assert result["connections"]["planned"] == 48 and result["counters"]["delivered"] > 100
    # the buyers talked to the 8 kefu of shop 1, spread by the server's assignment
    owners = await live.db.fetch("SELECT DISTINCT kefu_id FROM chat_relation WHERE shop_id = 1 AND user_id IN"
                                 " (SELECT id FROM \"user\" WHERE mobile LIKE '139%')")
    assert len(owners) >= 4


async def test_worker_processes_and_json(live, commerce_server, tmp_path):
    args = parse(options(live, commerce_server, "chat", "--connections", "20", "--rate", "60", "--duration", "2",
                         "--workers", "2", "--json", str(tmp_path / "r.json")))
    result = await run_loadtest(args, out=None)
    clean(result)
    assert result["workers"] == 2 and result["counters"]["delivered"] > 0
    merged = Histogram.from_json(result["histograms"]["delivery"])
    assert merged.count == result["counters"]["delivered"]
    json.dumps(result)   # the document is plain JSON


async def test_echo_scenario_against_the_bench_echo_server():
    from bench.echo_server import create_app
    server = TestServer(create_app())
    await server.start_server()
    try:
        args = parse(["echo", "--url", ws(server.make_url("/")), "--connections", "5", "--closed-loop",
                      "--duration", "1", "--quiet"])
        result = await run_loadtest(args, out=None)
    finally:
        await server.close()
    assert result["counters"]["echoed"] > 50 and result["errors"] == {}


@pytest.mark.parametrize("url", ["ws://10.0.0.5:20211/", "ws://example.com/", "ws://192.0.2.1:20211/",
                                 "wss://[2001:db8::1]/"])
async def test_refuses_targets_that_are_not_loopback(url):
    with pytest.raises(LoadTestError, match="not a loopback address"):
        await run_loadtest(parse(["chat", "--url", url, "--rate", "1"]), out=None)


def test_cli_refuses_a_remote_target_and_allows_nothing_else():
    proc = subprocess.run([KEFU, "loadtest", "idle", "--url", "ws://192.0.2.1:20211/"], capture_output=True,
                          text=True, timeout=60, env=os.environ, check=False)
    assert proc.returncode == 2 and "not a loopback address" in proc.stderr and "--allow-remote" in proc.stderr
    proc = subprocess.run([KEFU, "loadtest", "idle", "--duration", "99999"], capture_output=True, text=True,
                          timeout=60, env=os.environ, check=False)
    assert proc.returncode == 2 and "must be from" in proc.stderr     # the caps are enforced


def test_histogram_percentiles_are_close_and_merge():
    values = list(range(1, 100_001))
    h = Histogram()
    for v in values:
        h.record(v)
    for p in (50, 90, 99, 99.9):
        exact = values[int(len(values) * p / 100) - 1]
        assert exact <= h.percentile(p) <= exact * 1.016
    a, b = Metrics(), Metrics()
    a.latency["echo"].record(100)
    b.latency["echo"].record(5000)
    a.merge(Metrics.from_json(b.to_json()))
    assert a.latency["echo"].count == 2 and a.latency["echo"].max == 5000


def test_histogram_image_needs_matplotlib(tmp_path):
    result = {"scenario": "chat", "target": "x", "histograms": {"echo": Histogram().to_json()}}
    h = Histogram()
    for v in (100, 200, 300):
        h.record(v)
    result["histograms"]["echo"] = h.to_json()
    message = write_histogram(result, tmp_path / "h.png")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in message and not (tmp_path / "h.png").exists()
    else:
        assert (tmp_path / "h.png").stat().st_size > 1000


async def until(run: asyncio.Future, condition, what: str, timeout: float = 60) -> None:
    """Wait for `condition()` while the load test `run` goes on; fail if it ends first, or after a
    generous deadline (a busy machine is slow, never that slow)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if run.done():
            run.result()
            pytest.fail(f"the load test ended before {what}")
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no {what} within {timeout} s")
        await asyncio.sleep(0.02)


async def test_closed_loop_senders_give_up_on_a_late_echo_and_go_on(live, commerce_server, db_dsn, monkeypatch):
    """Driven by what the engine has seen, not by the clock: stall the store once the senders are
    echoing, release it once a sender has given up, end the run once they went on."""
    monkeypatch.setattr(engine, "ECHO_TIMEOUT", 0.5)
    args = parse(options(live, commerce_server, "chat", "--connections", "4", "--closed-loop", "--duration", "600",
                         "--warmup", "0"))
    engines: list[engine.Engine] = []
    run = asyncio.ensure_future(run_loadtest(args, out=None, on_engine=engines.append))
    counters = lambda: engines[0].metrics.counters
    in_flight = lambda: {cmid for c in engines[0].conns for cmid in c.outstanding}
    try:
        await until(run, lambda: engines and counters()["echoed"] >= 8, "echoes before the stall")
        blocker = await asyncpg.connect(db_dsn)
        try:
            # Every message now waits for this lock: its echo is late, the sender gives up on it.
            await blocker.execute("BEGIN; LOCK TABLE chat_relation IN EXCLUSIVE MODE")
            await until(run, lambda: engines[0].metrics.errors["echo timeout"] >= 1, "sender giving up")
            stuck = in_flight()
            await blocker.execute("ROLLBACK")
        finally:
            await blocker.close()
        echoed = counters()["echoed"]
        # The senders go on, and the echoes they gave up on still arrive.
        await until(run, lambda: counters()["echoed"] >= echoed + 20 and not stuck & in_flight(),
                    "sending after the stall")
    finally:
        if engines:
            engines[0].finish()
        result = await run
    assert stuck
    assert set(result["errors"]) == {"echo timeout"} and result["errors"]["echo timeout"] >= 1
    assert result["counters"]["echoed"] > 20
    assert result["counters"].get("duplicates", 0) == 0
