"""`kefu loadtest` (also `python -m shared.loadtest`): options, then run and report.

Kept light: `kefu --help` builds this parser, so the engine and aiohttp are imported only to run.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.cli import bounded
from shared.loadtest.plan import MAX_CONNECTIONS, MAX_DURATION, MAX_RATE, SCENARIOS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", choices=SCENARIOS,
                   help="idle: hold connections with heartbeats; chat: buyers and kefu in conversations; "
                        "storm: chat while connections are cut and resume with sync; echo: the same load "
                        "against a server that echoes text frames (the benchmark's ceiling)")
    target = p.add_argument_group("target")
    target.add_argument("--url", default="ws://127.0.0.1:20211/", help="the chat server's ws_domain "
                        "(default %(default)s)")
    target.add_argument("--kefu-url", default=None,
                        help="connect the kefu to this node instead (chat servers sharing Redis: every "
                             "message then crosses nodes)")
    target.add_argument("--chat-http", default=None, help="its HTTP address for the kefu login "
                        "(default: from --url)")
    target.add_argument("--commerce-url", default="http://127.0.0.1:20212",
                        help="the commerce API, for the buyers' login (default %(default)s)")
    target.add_argument("--allow-remote", action="store_true",
                        help="allow targets that are not loopback addresses (only servers you run yourself)")
    who = p.add_argument_group("who connects")
    who.add_argument("--connections", type=bounded(int, 1, MAX_CONNECTIONS), default=20,
                     help=f"buyer connections (at most {MAX_CONNECTIONS}; default %(default)s)")
    who.add_argument("--tokens", default=None, metavar="FILE",
                     help="buyer tokens, one per line (kefu seed-demo --buyers N --tokens FILE); default: log "
                          "the 20 demo buyers in; connections beyond the tokens reuse them")
    who.add_argument("--kefu", default="shop1,shop1b,shop2,admin",
                     help="demo back-office accounts logged in as kefu for chat/storm (default %(default)s)")
    who.add_argument("--kefu-tokens", default=None, metavar="FILE",
                     help="kefu from a file of 'kefu_id shop_id token' lines (kefu seed-demo --kefu K "
                          "--kefu-tokens FILE) instead of logging the demo accounts in")
    who.add_argument("--shop-id", type=int, default=1, help="idle: the shop buyers open the chat with")
    load = p.add_argument_group("load")
    load.add_argument("--duration", type=bounded(float, 0.5, MAX_DURATION), default=10.0,
                      help=f"measured seconds (at most {MAX_DURATION}; default %(default)s)")
    load.add_argument("--warmup", type=bounded(float, 0, 600), default=0.0,
                      help="seconds of load before the measurement starts")
    load.add_argument("--drain", type=bounded(float, 0, 120), default=5.0,
                      help="after the last send, wait at most this long for echoes (default %(default)s)")
    load.add_argument("--rate", type=bounded(float, 0.1, MAX_RATE), default=None,
                      help="open loop: messages per second in total, scheduled by the clock")
    load.add_argument("--closed-loop", action="store_true",
                      help="closed loop: each sending buyer sends again as soon as its echo is back")
    load.add_argument("--concurrency", type=bounded(int, 0, MAX_CONNECTIONS), default=0,
                      help="closed loop: how many buyers send (default: all)")
    load.add_argument("--kefu-share", type=bounded(float, 0, 1), default=0.5,
                      help="open loop: fraction of the messages sent by kefu, replying (default %(default)s)")
    load.add_argument("--text-size", type=bounded(int, 1, 2000), default=32, help="characters per message")
    load.add_argument("--ping-interval", type=bounded(float, 1, 600), default=10.0,
                      help="ping after this many seconds without a frame, as real clients (default %(default)s)")
    load.add_argument("--ping-timeout", type=bounded(float, 1, 600), default=10.0,
                      help="drop and reconnect when a ping gets no answer in this long (default %(default)s)")
    load.add_argument("--storm-interval", type=bounded(float, 0.5, 600), default=5.0,
                      help="storm: seconds between mass disconnects (default %(default)s)")
    load.add_argument("--storm-fraction", type=bounded(float, 0, 1), default=0.5,
                      help="storm: fraction of the connections cut each time (default %(default)s)")
    load.add_argument("--reconnect-delay", type=bounded(float, 0, 60), default=0.5,
                      help="storm: reconnections are spread over this many seconds (default %(default)s)")
    run = p.add_argument_group("running")
    run.add_argument("--connect-concurrency", type=bounded(int, 1, 10_000), default=128,
                     help="handshakes in flight at once per process (default %(default)s)")
    run.add_argument("--workers", type=bounded(int, 0, 64), default=0,
                     help="processes to spread the connections over (default: as the open-file limit needs)")
    run.add_argument("--source-addrs", type=bounded(int, 0, 250), default=0,
                     help="loopback source addresses 127.0.0.2... to spread connections over "
                          "(default: one per 16,000 connections)")
    out = p.add_argument_group("output")
    out.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the result document here")
    out.add_argument("--histogram", type=Path, default=None, metavar="FILE.png",
                     help="latency-by-percentile plot (needs matplotlib)")
    out.add_argument("--quiet", action="store_true", help="no progress line")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kefu loadtest")
    add_arguments(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from shared.loadtest.metrics import summary_text
    from shared.loadtest.report import write_histogram
    from shared.loadtest.runner import LoadTestError, run_loadtest
    try:
        import uvloop
    except ImportError:   # pragma: no cover - uvloop is a dependency everywhere but Windows
        uvloop = None
    try:
        result = (uvloop.run if uvloop else asyncio.run)(run_loadtest(args))
    except LoadTestError as exc:
        print(f"kefu loadtest: {exc}", file=sys.stderr)
        return 2
    print(summary_text(result))
    if args.json:
        import orjson
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        print(f"result written to {args.json}")
    if args.histogram:
        print(write_histogram(result, args.histogram))
    return 0 if result["connections"]["established"] else 1


def main(argv: Sequence[str] | None = None) -> None:
    raise SystemExit(run(parse(sys.argv[1:] if argv is None else argv)))
