"""The benchmark harness: `python -m bench` (or `python bench/run.py`).

One command, a few minutes on a 2-core machine, one markdown table. Everything runs on loopback
against processes this harness starts for itself: a private Postgres (so its CPU is the bench's
alone), the commerce API, chat server nodes, Redis and the bare echo server. The load comes from
`kefu loadtest` run as a separate process, and server CPU is read from /proc over exactly the
load tester's measured phase. Each measurement is repeated `--runs` times (default 3) and the
table shows medians; ratios are against the ceiling measured in the same run.

Measurements:
  ceiling     the bare aiohttp+uvloop echo server, closed loop: server CPU µs per round trip
  chat max    one chat node, closed loop: persisted buyer→kefu messages, chat server and Postgres
              CPU µs per delivered message, throughput, latency
  chat N%     the same node, open loop at 25/50/75 % of that maximum, buyers and kefu both sending
  group commit  GROUP_COMMIT=1 vs 0 with 1,000 concurrent senders (closed loop)
  idle        RSS per idle authenticated connection at 20,000 connections (fewer when the open-file
              limit does not allow it: said in the table), chat server vs echo server, ping RTT
  two nodes   buyers on node A, kefu on node B, Redis between: CPU per cross-node message vs one
              node's local delivery at the same rate
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:          # `python bench/run.py` as well as `python -m bench`
    sys.path.insert(0, str(REPO))

from bench import profile as profiling
from bench.procstat import Sampler
from bench.services import Service, Stack, raise_open_files
from shared.settings import Settings

RESULTS = REPO / "bench" / "results"
# The chat server's abuse limits (new connections per address, frames per connection and per
# principal) would throttle a single load generator; they are off for the benchmark, documented.
BENCH_ENV = {"CHAT_CONNECTION_RATE_PER_IP": "0", "CHAT_RATE_PER_CONNECTION": "0", "CHAT_RATE_PER_PRINCIPAL": "0"}
SECTIONS = ("chat", "group-commit", "idle", "two-nodes")
SERVER_FD_RESERVE = 300     # descriptors a server keeps besides connections (pool, listeners, logs)


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.stack = Stack(workdir)
        self.commerce: Service | None = None
        self.hard_fd = raise_open_files()
        self.idle_target = args.idle_connections
        self.idle_n = min(args.idle_connections, self.hard_fd - SERVER_FD_RESERVE)
        self.group_commit_available = "group_commit" in {f.name for f in fields(Settings)}
        self.notes: list[str] = []

    # ------------------------------------------------------------------------ plumbing

    def loadtest(self, name: str, argv: list[str], groups: dict[str, Any], timeout: float = 600,
                 on_start: Callable[[], None] | None = None) -> dict:
        """Run `kefu loadtest` as its own process while sampling the servers' CPU and memory; the
        result document plus cpu (seconds over the measured phase) and rss (bytes) per group.
        `on_start` is called when the load starts (its first progress line: connected and set up)."""
        out = self.workdir / f"{name}.json"
        cmd = [sys.executable, "-m", "shared.loadtest", *argv, "--json", str(out)]
        with Sampler(groups) as sampler:
            rss_before = {g: sampler.rss[g][-1] for g in groups}
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            stdout = []
            reader = threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)
            reader.start()
            tail: list[str] = []
            for line in proc.stderr:        # the progress lines: one a second
                if line.startswith("[") and on_start is not None:
                    on_start()
                    on_start = None
                tail = (tail + [line])[-20:]
            proc.wait(timeout=timeout)
            reader.join(timeout=10)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"loadtest {name} failed ({proc.returncode}):\n{''.join(stdout)[-2000:]}\n"
                               f"{''.join(tail)}")
        result = json.loads(out.read_text())
        t0, t1 = result["phases"]["measure_start"], result["phases"]["measure_end"]
        result["cpu"] = {g: sampler.cpu_between(g, t0, t1) for g in groups}
        # Memory while every connection is still open: just before the measured phase ends.
        result["rss_before"] = rss_before
        result["rss"] = {g: sampler.rss_at(g, t1 - 0.5) for g in groups}
        errors = sum(result["errors"].values())
        if errors:
            say(f"  {name}: {errors} errors: {dict(list(result['errors'].items())[:4])}")
        return result

    def chat_argv(self, scenario: str, node: Service, *extra: str) -> list[str]:
        return [scenario, "--url", node.ws_url, "--chat-http", node.http_url, "--tokens", str(self.stack.tokens_file),
                "--kefu-tokens", str(self.stack.kefu_file),
                "--duration", str(self.args.duration), "--warmup", "1", "--drain", "3", "--source-addrs", "4",
                "--workers", str(self.args.load_workers), "--kefu-share", str(self.args.kefu_share), *extra]

    def start_chat(self, name: str, **extra: str) -> Service:
        return self.stack.start_chat(name, self.commerce, **{**BENCH_ENV, **extra})

    # ------------------------------------------------------------------------ measurements

    def ceiling(self) -> dict:
        echo = self.stack.start_echo()
        try:
            r = self.loadtest("ceiling", ["echo", "--url", echo.ws_url, "--connections", str(self.args.concurrency),
                                          "--closed-loop", "--duration", str(self.args.duration), "--warmup", "1",
                                          "--source-addrs", "4", "--workers", str(self.args.load_workers)],
                              {"server": lambda: [echo.pid]})
        finally:
            self.stack.stop(echo)
        n = r["counters"].get("echoed", 0)
        return {"throughput": n / r["measured_s"], "server_us": 1e6 * r["cpu"]["server"] / max(n, 1),
                "latency": r["latency"]["echo"]}

    def chat_groups(self, *nodes: Service) -> dict[str, Any]:
        groups: dict[str, Any] = {f"node{i}": (lambda pid=n.pid: [pid]) for i, n in enumerate(nodes)}
        groups["postgres"] = self.stack.postgres_pids
        return groups

    @staticmethod
    def per_message(r: dict, nodes: int = 1) -> dict:
        delivered = max(r["counters"].get("delivered", 0), 1)
        server = sum(r["cpu"][f"node{i}"] for i in range(nodes))
        out = {"throughput": r["counters"].get("delivered", 0) / r["measured_s"],
               "server_us": 1e6 * server / delivered, "postgres_us": 1e6 * r["cpu"]["postgres"] / delivered,
               "latency": r["latency"]["delivery"], "echo_latency": r["latency"]["echo"],
               "errors": sum(r["errors"].values()), "sent": r["counters"].get("sent", 0)}
        if "redis" in r["cpu"]:
            out["redis_us"] = 1e6 * r["cpu"]["redis"] / delivered
        return out

    def chat_one_node(self) -> dict:
        node = self.start_chat("chat")
        try:
            top = self.per_message(self.loadtest("chat-max", self.chat_argv(
                "chat", node, "--connections", str(self.args.concurrency), "--closed-loop"),
                self.chat_groups(node)))
            rates = {}
            for share in (0.25, 0.5, 0.75):
                rate = max(1.0, round(top["throughput"] * share))
                r = self.per_message(self.loadtest(f"chat-{int(share * 100)}", self.chat_argv(
                    "chat", node, "--connections", str(self.args.concurrency), "--rate", str(rate)),
                    self.chat_groups(node)))
                r["offered"] = rate
                rates[share] = r
            if self.args.profile and not getattr(self, "profiled", False):
                self.profiled = True
                self.profile(node, rates[0.5]["offered"])
        finally:
            self.stack.stop(node)
        return {"max": top, "rates": rates}

    def group_commit(self) -> dict:
        if not self.group_commit_available:
            return {}
        out = {}
        for flag in ("1", "0"):
            node = self.start_chat(f"chat-gc{flag}", GROUP_COMMIT=flag)
            try:
                out[flag] = self.per_message(self.loadtest(f"gc-{flag}", self.chat_argv(
                    "chat", node, "--connections", str(self.args.gc_senders), "--closed-loop",
                    "--connect-concurrency", "256"), self.chat_groups(node)))
            finally:
                self.stack.stop(node)
        return out

    def idle(self) -> dict:
        out = {}
        duration = str(max(12.0, self.args.idle_duration))
        for kind in ("echo", "chat"):
            server = self.stack.start_echo() if kind == "echo" else self.start_chat("chat-idle")
            try:
                time.sleep(1.0)   # settled after start
                r = self.loadtest(f"idle-{kind}", [
                    "idle", "--url", server.ws_url, "--tokens", str(self.stack.tokens_file), "--connections",
                    str(self.idle_n), "--duration", duration, "--warmup", "3", "--connect-concurrency", "256",
                    "--source-addrs", str(max(2, math.ceil(self.idle_n / 8000))), "--workers", "2"],
                    {"server": lambda s=server: [s.pid]},
                    timeout=900)
            finally:
                self.stack.stop(server)
            held = r["connections"]["peak"]
            grown = r["rss"]["server"] - r["rss_before"]["server"]
            out[kind] = {"connections": held, "rss_per_conn": grown / max(held, 1),
                         "rss_mib": r["rss"]["server"] / 2**20, "ping": r["latency"]["ping"],
                         "unanswered": r["errors"].get("ping unanswered", 0), "errors": sum(r["errors"].values()),
                         "pings": r["counters"].get("pings", 0)}
        return out

    def two_nodes(self, rate: float) -> dict:
        """Buyers on node A, kefu on node B, Redis between: every message crosses nodes. One way
        (only buyers send: only A writes) against one node under the same load, and both ways (the
        50 % row's mix: both nodes write the same conversations)."""
        one_way = ("--connections", str(self.args.concurrency), "--rate", str(rate), "--kefu-share", "0")
        local = self.start_chat("chat-local")
        try:
            out = {"local": self.per_message(self.loadtest("one-node-one-way", self.chat_argv(
                "chat", local, *one_way), self.chat_groups(local)))}
        finally:
            self.stack.stop(local)
        redis = self.stack.start_redis()
        url = f"redis://127.0.0.1:{redis.port}/0"
        a = self.start_chat("chat-a", REDIS_URL=url)
        b = self.start_chat("chat-b", REDIS_URL=url)
        try:
            groups = {**self.chat_groups(a, b), "redis": lambda: [redis.pid]}
            out["one_way"] = self.per_message(self.loadtest("two-nodes-one-way", self.chat_argv(
                "chat", a, *one_way, "--kefu-url", b.ws_url), groups), nodes=2)
            out["both_ways"] = self.per_message(self.loadtest("two-nodes", self.chat_argv(
                "chat", a, "--connections", str(self.args.concurrency), "--rate", str(rate), "--kefu-url", b.ws_url),
                groups), nodes=2)
        finally:
            for s in (b, a, redis):
                self.stack.stop(s)
        for r in out.values():
            r["offered"] = rate
        return out

    def profile(self, node: Service, rate: float) -> None:
        """py-spy on the chat server while the chat scenario runs at `rate` (the 50 % load)."""
        say(f"profiling the chat server (py-spy) at {rate:g} msg/s")
        if profiling.py_spy() is None:
            self.notes.append("profile: py-spy is not installed (`.venv/bin/pip install py-spy`)")
            return
        spies = []
        # From the first second of load (after connecting and user_online), for the measured phase.
        self.loadtest("chat-profile", self.chat_argv("chat", node, "--connections", str(self.args.concurrency),
                                                     "--rate", str(rate)), self.chat_groups(node),
                      on_start=lambda: spies.append(profiling.start(node.pid, RESULTS, self.args.duration)))
        summary = profiling.finish(spies[0], RESULTS)
        self.notes.append(f"profile of the chat server at {rate:g} msg/s (py-spy): "
                          + summary.replace(str(REPO) + "/", ""))

    # ------------------------------------------------------------------------ the whole run

    def run(self) -> dict:
        buyers = max(self.idle_n if "idle" in self.args.only else 0,
                     self.args.gc_senders if "group-commit" in self.args.only else 0, self.args.concurrency)
        say(f"private Postgres, demo data, {buyers} load-test buyers and {self.args.kefu} kefu")
        self.stack.start_postgres(buyers, self.args.kefu)
        self.commerce = self.stack.start_commerce()
        runs = []
        only = self.args.only
        for i in range(self.args.runs):
            say(f"run {i + 1}/{self.args.runs}: ceiling (echo server)")
            run: dict[str, Any] = {"ceiling": self.ceiling()}
            if "chat" in only:
                say(f"run {i + 1}: chat, one node (max {run['ceiling']['throughput']:.0f} rt/s ceiling)")
                run["chat"] = self.chat_one_node()
            if "group-commit" in only:
                say(f"run {i + 1}: group commit on/off at {self.args.gc_senders} senders")
                run["group_commit"] = self.group_commit()
            if "idle" in only and not self.args.skip_idle and i < self.args.idle_runs:
                say(f"run {i + 1}: idle, {self.idle_n} connections")
                run["idle"] = self.idle()
            if "two-nodes" in only:
                say(f"run {i + 1}: two nodes + Redis")
                rate = run["chat"]["rates"][0.5]["offered"] if "chat" in run else self.args.cross_rate
                run["two_nodes"] = self.two_nodes(rate)
            runs.append(run)
        return {"runs": runs}


# ---------------------------------------------------------------------------- the table

def med(values: list[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def lat(runs: list[dict], get) -> str:
    keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
    return " / ".join(f"{med([get(r)[k] for r in runs]):.1f}" for k in keys)


def errors_note(runs: list[dict], pick) -> str:
    """A measurement with errors is flagged: its numbers describe a server that failed some work."""
    errors = [pick(r).get("errors", 0) for r in runs]
    return f" ⚠ errors in the run(s): {errors} (see the load tester's JSON)" if any(errors) else ""


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def table(bench: Bench, data: dict) -> str:
    runs = data["runs"]
    n = len(runs)
    ceil_us = med([r["ceiling"]["server_us"] for r in runs])
    rows = []

    def row(*cells: str) -> None:
        rows.append("| " + " | ".join(cells) + " |")

    row("ceiling: bare aiohttp+uvloop echo server", f"closed loop, {bench.args.concurrency} connections",
        f"{med([r['ceiling']['throughput'] for r in runs]):,.0f} round trips/s",
        f"{ceil_us:.0f} / – / –", lat(runs, lambda r: r["ceiling"]["latency"]), "1.00×", "")

    def chat_row(label: str, load: str, pick, budget: str = "") -> None:
        srv = med([pick(r)["server_us"] for r in runs])
        pg = med([pick(r)["postgres_us"] for r in runs])
        ratio = med([(pick(r)["server_us"] + pick(r)["postgres_us"]) / r["ceiling"]["server_us"] for r in runs])
        row(label, load, f"{med([pick(r)['throughput'] for r in runs]):,.0f} msg/s", f"{srv:.0f} / {pg:.0f} / –",
            lat(runs, lambda r: pick(r)["latency"]), f"{ratio:.2f}×", budget + errors_note(runs, pick))

    if "chat" in runs[0]:
        top_ratio = med([(r["chat"]["max"]["server_us"] + r["chat"]["max"]["postgres_us"]) / r["ceiling"]["server_us"]
                         for r in runs])
        chat_row("chat, one node: max (persisted, delivered)",
                 f"closed loop, {bench.args.concurrency} buyers → {bench.args.kefu} kefu", lambda r: r["chat"]["max"],
                 f"CPU ≤ 4× ceiling: {verdict(top_ratio <= 4)}")
        for share in (0.25, 0.5, 0.75):
            offered = med([r["chat"]["rates"][share]["offered"] for r in runs])
            budget = ""
            if share == 0.5:
                p99 = med([r["chat"]["rates"][share]["latency"]["p99_ms"] for r in runs])
                budget = f"p99 ≤ 50 ms: {verdict(p99 <= 50)}"
            chat_row(f"chat, one node: {int(share * 100)} % of max",
                     f"open loop {offered:,.0f} msg/s, buyers ↔ kefu ({bench.args.kefu_share:.0%} from kefu)",
                     lambda r, s=share: r["chat"]["rates"][s], budget)

    if "group_commit" not in runs[0]:
        pass
    elif bench.group_commit_available and runs[0]["group_commit"]:
        on = med([r["group_commit"]["1"]["throughput"] for r in runs])
        off = med([r["group_commit"]["0"]["throughput"] for r in runs])
        gc_ratio = med([r["group_commit"]["1"]["throughput"] / max(r["group_commit"]["0"]["throughput"], 1e-9)
                        for r in runs])
        chat_row("group commit on (GROUP_COMMIT=1)", f"closed loop, {bench.args.gc_senders} senders",
                 lambda r: r["group_commit"]["1"], f"on/off = {gc_ratio:.2f}× (≥ 3×): {verdict(gc_ratio >= 3)}")
        chat_row("group commit off (GROUP_COMMIT=0)", f"closed loop, {bench.args.gc_senders} senders",
                 lambda r: r["group_commit"]["0"], f"{on:,.0f} vs {off:,.0f} msg/s")
    else:
        row("group commit on vs off", "–", "not measured: this chat server has no GROUP_COMMIT setting", "", "", "", "")

    idle_runs = [r for r in runs if "idle" in r]
    if idle_runs:
        outer, runs = runs, idle_runs      # medians of the runs that measured it
        held = med([r["idle"]["chat"]["connections"] for r in runs])
        scaled = ("" if bench.idle_n >= bench.idle_target
                  else f" (scaled down from {bench.idle_target:,}: open-file hard limit {bench.hard_fd:,} per process)")
        echo_kib = med([r["idle"]["echo"]["rss_per_conn"] / 1024 for r in runs])
        chat_kib = med([r["idle"]["chat"]["rss_per_conn"] / 1024 for r in runs])
        rss_ratio = med([r["idle"]["chat"]["rss_per_conn"] / max(r["idle"]["echo"]["rss_per_conn"], 1)
                         for r in runs])
        row("idle: echo server",
            f"{med([r['idle']['echo']['connections'] for r in runs]):,.0f} idle connections{scaled}",
            f"{echo_kib:.1f} KiB RSS per connection", "–", lat(runs, lambda r: r["idle"]["echo"]["ping"]) + " (ping)",
            "1.00×", "")
        p99 = med([r["idle"]["chat"]["ping"]["p99_ms"] for r in runs])
        unanswered = sum(r["idle"]["chat"]["unanswered"] for r in runs)
        row("idle: chat server, authenticated", f"{held:,.0f} idle connections{scaled}",
            f"{chat_kib:.1f} KiB RSS per connection", "–", lat(runs, lambda r: r["idle"]["chat"]["ping"]) + " (ping)",
            f"{rss_ratio:.2f}× echo RSS",
            f"RSS ≤ 1.25×: {verdict(rss_ratio <= 1.25)}; ping p99 ≤ 100 ms, all answered: "
            f"{verdict(p99 <= 100 and unanswered == 0)} at {held:,.0f}"
            + ("" if held >= 50_000 else f" (50,000 on one node cannot be tried here: {bench.hard_fd:,} open files "
               "at most per process)") + (f"; {len(runs)} run(s)" if len(runs) != len(outer) else ""))
        runs = outer

    if "two_nodes" in runs[0]:
        both_ways_base = ((lambda r: r["chat"]["rates"][0.5]) if "chat" in runs[0]
                          else (lambda r: r["two_nodes"]["local"]))
        offered = med([r["two_nodes"]["local"]["offered"] for r in runs])
        chat_row("one node, one way (local delivery)", f"open loop {offered:,.0f} msg/s, buyers → kefu",
                 lambda r: r["two_nodes"]["local"])

        def nodes_row(label: str, load: str, key: str, local, budget: bool) -> None:
            two = [r["two_nodes"][key] for r in runs]
            base = [local(r)["server_us"] for r in runs]
            cross = med([t["server_us"] / b for t, b in zip(two, base)])
            with_redis = med([(t["server_us"] + t.get("redis_us", 0)) / b for t, b in zip(two, base)])
            row(label, load, f"{med([t['throughput'] for t in two]):,.0f} msg/s",
                f"{med([t['server_us'] for t in two]):.0f} (A+B) / {med([t['postgres_us'] for t in two]):.0f} / "
                f"{med([t.get('redis_us', 0) for t in two]):.0f}", lat(runs, lambda r: r["two_nodes"][key]["latency"]),
                f"{cross:.2f}× local ({with_redis:.2f}× with Redis)",
                (f"≤ 1.5× local delivery: {verdict(cross <= 1.5)}" if budget else "")
                + errors_note(runs, lambda r: r["two_nodes"][key]))

        nodes_row("two nodes + Redis, one way: cross-node delivery",
                  f"open loop {offered:,.0f} msg/s, buyers on A → kefu on B", "one_way",
                  lambda r: r["two_nodes"]["local"], True)
        nodes_row("two nodes + Redis, both ways", f"open loop {offered:,.0f} msg/s, buyers on A ↔ kefu on B "
                  f"({bench.args.kefu_share:.0%} from kefu)", "both_ways", both_ways_base, False)

    header = ("| measurement | load | throughput / memory | CPU µs per message or round trip: chat server(s) / "
              "Postgres / Redis | latency ms p50 / p90 / p99 / max | vs ceiling | budget |\n"
              "|---|---|---|---|---|---|---|")
    info = (f"Median of {n} run(s), {bench.args.duration:g} s measured each, on {os.cpu_count()} cores "
            f"({time.strftime('%Y-%m-%d %H:%M')}). Latency: send → delivery at the recipient (echo server: the round "
            "trip; idle: ping round trip). CPU: utime+stime from /proc over the measured phase; Postgres: every "
            "process of the bench's private server. \"vs ceiling\": (chat server + Postgres CPU per delivered message) "
            "÷ (echo server CPU per round trip), per run, median.")
    notes = "".join(f"\n- {x}" for x in bench.notes)
    return f"{header}\n" + "\n".join(rows) + f"\n\n{info}{notes}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the table shows medians (default 3)")
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds per load test (default 6)")
    parser.add_argument("--concurrency", type=int, default=200,
                        help="connections of the ceiling and chat measurements (default 200)")
    parser.add_argument("--gc-senders", type=int, default=1000, help="senders of the group-commit test (1000)")
    parser.add_argument("--load-workers", type=int, default=2,
                        help="load generator processes of the message measurements (default 2)")
    parser.add_argument("--kefu", type=int, default=50, help="load-test kefu of shop 1 (default 50)")
    parser.add_argument("--kefu-share", type=float, default=0.3,
                        help="open loop: fraction of the messages sent by kefu (default 0.3)")
    parser.add_argument("--idle-connections", type=int, default=20_000, help="idle connections (20000)")
    parser.add_argument("--idle-duration", type=float, default=12.0, help="seconds idle connections are held")
    parser.add_argument("--idle-runs", type=int, default=1,
                        help="runs that include the idle measurement (default 1: connecting 20,000 takes minutes, "
                             "and memory is not what is noisy)")
    parser.add_argument("--skip-idle", action="store_true", help="leave out the idle measurement")
    parser.add_argument("--only", type=lambda v: set(v.split(",")), default=set(SECTIONS),
                        help="comma-separated sections to measure besides the ceiling: " + ",".join(SECTIONS)
                        + " (default: all; a partial run writes bench/results/partial.md)")
    parser.add_argument("--cross-rate", type=float, default=1500.0,
                        help="offered msg/s of the two-node rows when the chat rows are not measured (1500)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the chat server with py-spy at 50 %% load (bench/results/)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the table goes too (default bench/results/latest.md, partial.md with --only)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, raw JSON)")
    args = parser.parse_args(argv)
    if args.only - set(SECTIONS):
        parser.error(f"--only: unknown section(s) {', '.join(sorted(args.only - set(SECTIONS)))}")
    if args.out is None:
        args.out = RESULTS / ("latest.md" if args.only == set(SECTIONS) else "partial.md")
    workdir = Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    bench = Bench(args, workdir)
    started = time.monotonic()
    try:
        data = bench.run()
    finally:
        bench.stack.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    text = table(bench, data)
    took = time.monotonic() - started
    text += f"\nHarness wall time: {took / 60:.1f} min. Reproduce: `python -m bench --runs {args.runs}`.\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    (args.out.with_suffix(".json")).write_text(json.dumps(data, indent=1, default=str))
    say(f"table written to {args.out} (raw numbers: {args.out.with_suffix('.json')})")


if __name__ == "__main__":
    main()
