"""A whole load test: check the targets, get tokens, lay out the connections, run them in this
process or in worker processes, and put the measurements together."""
from __future__ import annotations

import asyncio
import math
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import orjson

from shared.loadtest import accounts
from shared.loadtest.engine import Engine
from shared.loadtest.metrics import Metrics
from shared.loadtest.net import check_target, connections_per_process, source_addresses
from shared.loadtest.plan import Plan, Slot
from shared.loadtest.report import build_result, progress_line

ECHO_TOKEN = "0" * 32           # the echo server authenticates nobody
START_MARGIN = 0.5              # seconds between "go" and the common start


class LoadTestError(RuntimeError):
    """A load test that cannot start (refused target, failed login, bad token file...)."""


def http_of(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"


async def layout(args: Any) -> tuple[list[Slot], list[int]]:
    """The connections to hold (buyers, then kefu) and the shops the buyers talk to."""
    n = args.connections
    if args.scenario == "echo":
        return [Slot("user", ECHO_TOKEN, 0, 0) for _ in range(n)], [0]
    try:
        if args.tokens:
            tokens = accounts.read_token_file(Path(args.tokens))
        else:
            tokens = await accounts.login_demo_buyers(args.commerce_url, min(n, accounts.DEMO_BUYERS))
        kefu_accounts = [a for a in args.kefu.split(",") if a] if args.scenario in ("chat", "storm") else []
        if args.kefu_tokens and args.scenario in ("chat", "storm"):
            kefu = accounts.read_kefu_file(Path(args.kefu_tokens))
        else:
            kefu = await accounts.login_kefu(args.chat_http, kefu_accounts) if kefu_accounts else []
    except accounts.LoginFailed as exc:
        raise LoadTestError(str(exc)) from None
    if args.scenario in ("chat", "storm") and not kefu:
        raise LoadTestError("the chat and storm scenarios need kefu (--kefu shop1,shop1b,shop2,admin)")
    shops: list[int] = []
    by_shop: dict[int, list[int]] = {}
    for k in kefu:
        by_shop.setdefault(k.shop_id, []).append(k.id)
        if k.shop_id not in shops:
            shops.append(k.shop_id)
    if not shops:
        shops = [args.shop_id]
    slots = []
    for i in range(n):
        # The first len(tokens) connections are distinct buyers of the first shop, the next ones the
        # same buyers with the next shop: as many distinct conversations as the tokens allow.
        shop = shops[(i // len(tokens)) % len(shops)]
        hints = by_shop.get(shop, [0])
        slots.append(Slot("user", tokens[i % len(tokens)], shop, hints[i % len(hints)]))
    slots += [Slot("kefu", k.token, k.shop_id, k.id) for k in kefu]
    return slots, shops


def split_plans(base: Plan, workers: int) -> list[Plan]:
    """Buyers spread round-robin over the workers, every kefu in worker 0; the send rate and the
    closed-loop senders in proportion."""
    buyers = [s for s in base.slots if s.role == "user"]
    kefu = [s for s in base.slots if s.role == "kefu"]
    share = base.kefu_share if kefu else 0.0
    plans = []
    for w in range(workers):
        mine = buyers[w::workers] + (kefu if w == 0 else [])
        nb = sum(1 for s in mine if s.role == "user")
        rate = kefu_rate = None
        if base.rate:
            kefu_rate = base.rate * share if w == 0 else 0.0
            rate = base.rate * (1 - share) * (nb / len(buyers) if buyers else 0) + kefu_rate
        concurrency = math.ceil(base.concurrency * nb / len(buyers)) if base.concurrency and buyers else 0
        plans.append(replace(base, slots=mine, rate=rate or (None if not base.rate else 1e-9),
                             kefu_share=(kefu_rate / rate) if rate and kefu_rate else 0.0,
                             concurrency=concurrency, worker=w))
    return plans


class Progress:
    """Prints one line a second, merging the workers' ticks of the same second."""

    def __init__(self, planned: int, workers: int, out: TextIO | None):
        self.planned, self.workers, self.out = planned, workers, out
        self.pending: dict[int, list[tuple[int, Metrics]]] = {}

    def tick(self, second: int, conns: int, metrics: Metrics) -> None:
        got = self.pending.setdefault(second, [])
        got.append((conns, metrics))
        if len(got) < self.workers:
            return
        del self.pending[second]
        merged = Metrics()
        for _, m in got:
            merged.merge(m)
        if self.out is not None:
            print(progress_line(second, sum(c for c, _ in got), self.planned, merged), file=self.out, flush=True)


async def run_in_process(plan: Plan, progress: Progress,
                         on_engine: Callable[[Engine], None] | None = None) -> dict[str, Any]:
    engine = Engine(plan, on_tick=lambda t: progress.tick(t["second"], t["conns"], t["metrics"]))
    if on_engine is not None:
        on_engine(engine)
    try:
        await engine.connect_all()
    except BaseException:
        await engine.close()
        raise
    return await engine.run(time.monotonic() + START_MARGIN)


async def run_workers(plans: list[Plan], progress: Progress) -> list[dict[str, Any]]:
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.loadtest.worker", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024) for _ in plans]
    try:
        for proc, plan in zip(procs, plans):
            proc.stdin.write(orjson.dumps(plan.to_json()) + b"\n")
            await proc.stdin.drain()

        async def until(proc, kind: str, on_tick: Callable | None = None) -> dict[str, Any]:
            while True:
                line = await proc.stdout.readline()
                if not line:
                    raise LoadTestError(f"a worker exited (code {await proc.wait()}) before its {kind} report")
                message = orjson.loads(line)
                if message["type"] == kind:
                    return message
                if message["type"] == "tick" and on_tick is not None:
                    on_tick(message)

        await asyncio.gather(*(until(p, "ready") for p in procs))
        start = time.monotonic() + START_MARGIN
        for proc in procs:
            proc.stdin.write(f"go {start}\n".encode())
            await proc.stdin.drain()
        tick = lambda m: progress.tick(m["second"], m["conns"], Metrics.from_json(m["metrics"]))
        finals = await asyncio.gather(*(until(p, "final", tick) for p in procs))
        for message in finals:
            message["metrics"] = Metrics.from_json(message["metrics"])
        return finals
    finally:
        for proc in procs:
            if proc.returncode is None:
                try:
                    proc.stdin.close()
                    await asyncio.wait_for(proc.wait(), 30)
                except (TimeoutError, ConnectionError):
                    proc.kill()
                    await proc.wait()


async def run_loadtest(args: Any, out: TextIO | None = sys.stderr,
                       on_engine: Callable[[Engine], None] | None = None) -> dict[str, Any]:
    """Run the load test described by the parsed options; the result document. `on_engine` is
    given the engine of an in-process run (one worker) as soon as it exists: a caller can watch
    its measurements and end it with `Engine.finish()`."""
    allow = args.allow_remote
    try:
        check_target(args.url, allow, ("ws", "wss"))
        if args.kefu_url:
            check_target(args.kefu_url, allow, ("ws", "wss"))
        args.chat_http = check_target(args.chat_http or http_of(args.url), allow, ("http", "https"))
        if args.scenario != "echo" and not args.tokens:
            check_target(args.commerce_url, allow, ("http", "https"))
    except ValueError as exc:
        raise LoadTestError(str(exc)) from None
    per_process = connections_per_process()
    slots, shops = await layout(args)
    workers = args.workers or max(1, math.ceil(len(slots) / per_process))
    if args.workers and math.ceil(len(slots) / args.workers) > per_process:
        raise LoadTestError(f"{len(slots)} connections in {args.workers} processes exceed the open-file limit "
                            f"({per_process} per process): use more --workers")
    sources = source_addresses(urlsplit(args.url).hostname or "", len(slots), args.source_addrs)
    base = Plan(scenario=args.scenario, url=args.url, kefu_url=args.kefu_url, run_id=secrets.token_hex(4), slots=slots,
                duration=args.duration, warmup=args.warmup, drain=args.drain,
                rate=args.rate if not args.closed_loop else None, concurrency=args.concurrency,
                kefu_share=args.kefu_share, text_size=args.text_size, ping_interval=args.ping_interval,
                ping_timeout=args.ping_timeout, connect_concurrency=args.connect_concurrency, sources=sources,
                storm_interval=args.storm_interval, storm_fraction=args.storm_fraction,
                reconnect_delay=args.reconnect_delay)
    if args.scenario in ("chat", "storm", "echo") and not base.rate and not args.closed_loop:
        raise LoadTestError("give a send rate (--rate N messages/s, open loop) or --closed-loop")
    progress = Progress(len(slots), workers, None if args.quiet else out)
    if out is not None:
        load = ("no messages" if args.scenario == "idle" else f"{base.rate:g} msg/s open loop" if base.rate
                else "closed loop")
        print(f"kefu loadtest {args.scenario}: {len(slots)} connections to {args.url} from "
              f"{', '.join(s or 'auto' for s in sources)} in {workers} process(es); shops {shops}; {load}; "
              f"{args.duration:g} s measured", file=out, flush=True)
    if on_engine is not None and workers != 1:
        raise LoadTestError("on_engine needs an in-process run (one worker)")
    if workers == 1:
        finals = [await run_in_process(replace(base, worker=0), progress, on_engine)]
    else:
        finals = await run_workers(split_plans(base, workers), progress)
    metrics = Metrics()
    for f in finals:
        metrics.merge(f["metrics"])
    phases = {k: max(f["phases"].get(k, 0.0) for f in finals) for k in ("measure_start", "measure_end", "drained")}
    measured = phases["measure_end"] - phases["measure_start"]
    options = {k: v for k, v in vars(args).items() if k not in ("func",) and isinstance(v, (int, float, str, bool,
                                                                                            type(None)))}
    return build_result(args.scenario, args.url, metrics, planned=len(slots),
                        established=sum(f["established"] for f in finals), peak=sum(f["peak"] for f in finals),
                        alive_at_end=sum(f["alive_at_end"] for f in finals), measured_s=measured,
                        offered=base.rate, workers=workers, sources=sources, phases=phases, options=options)
