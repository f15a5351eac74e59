"""What a load test measures: latency histograms, counters, and how they are merged and reported.

`Histogram` is a log-bucket histogram in the manner of HdrHistogram: values (microseconds) below
128 are exact, above that each power of two is cut into 64 buckets, so any value is known to within
1.6 % while a histogram is a fixed 2,048-slot list that merges by addition (across seconds, across
worker processes) and serialises compactly. Percentiles report a bucket's upper edge, capped by
the largest value seen: never below the truth.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SUB_BITS = 6                    # 64 buckets per power of two above the linear range
LINEAR = 1 << (SUB_BITS + 1)    # 0..127 µs exact
SLOTS = 2048
MAX_VALUE = (1 << 36) - 1       # ~19 hours in µs; larger values are clamped


def bucket_of(value: int) -> int:
    if value < LINEAR:
        return max(0, value)
    value = min(value, MAX_VALUE)
    shift = value.bit_length() - SUB_BITS - 1
    return LINEAR + (shift - 1) * (1 << SUB_BITS) + (value >> shift) - (1 << SUB_BITS)


def bucket_upper(index: int) -> int:
    """The largest value that falls in bucket `index`."""
    if index < LINEAR:
        return index
    rel = index - LINEAR
    shift = rel // (1 << SUB_BITS) + 1
    mantissa = rel % (1 << SUB_BITS) + (1 << SUB_BITS)
    return ((mantissa + 1) << shift) - 1


class Histogram:
    __slots__ = ("count", "counts", "max", "min", "total")

    def __init__(self) -> None:
        self.counts = [0] * SLOTS
        self.count = 0
        self.total = 0
        self.max = 0
        self.min = 0

    def record(self, micros: int) -> None:
        micros = max(micros, 0)
        self.counts[bucket_of(micros)] += 1
        if self.count == 0 or micros < self.min:
            self.min = micros
        self.max = max(self.max, micros)
        self.count += 1
        self.total += micros

    def merge(self, other: Histogram) -> None:
        if other.count == 0:
            return
        counts = self.counts
        for i, n in enumerate(other.counts):
            if n:
                counts[i] += n
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total

    def percentile(self, p: float) -> int:
        """The value at or below which `p` percent of the recorded values lie (0 when empty)."""
        if self.count == 0:
            return 0
        rank = max(1, -(-self.count * p // 100))   # ceil, at least the first value
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return min(bucket_upper(i), self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def summary(self) -> dict[str, float]:
        """Milliseconds, as the tables and the JSON show them."""
        ms = lambda us: round(us / 1000, 3)
        return {"count": self.count, "p50_ms": ms(self.percentile(50)), "p90_ms": ms(self.percentile(90)),
                "p99_ms": ms(self.percentile(99)), "p999_ms": ms(self.percentile(99.9)), "max_ms": ms(self.max),
                "mean_ms": round(self.mean / 1000, 3)}

    def to_json(self) -> dict[str, Any]:
        return {"buckets": {str(i): n for i, n in enumerate(self.counts) if n}, "count": self.count,
                "total": self.total, "max": self.max, "min": self.min}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        h = cls()
        for i, n in data["buckets"].items():
            h.counts[int(i)] = n
        h.count, h.total, h.max, h.min = data["count"], data["total"], data["max"], data["min"]
        return h

    def points(self) -> Iterable[tuple[int, int]]:
        """(bucket upper edge in µs, count) of the non-empty buckets, for plotting."""
        return ((bucket_upper(i), n) for i, n in enumerate(self.counts) if n)


LATENCIES = ("delivery", "echo", "ping", "connect", "reconnect")
"""delivery: send → the record at the recipient; echo: send → the record back at the sender; ping: a
heartbeat's round trip; connect: TCP + upgrade + handshake until `login`; reconnect: from the drop
until the connection is back and its `sync` answered."""

COUNTERS = ("sent", "delivered", "echoed", "pings", "connects", "reconnects", "disconnects", "gaps", "duplicates",
            "missing_at_end", "replayed", "unanswered")
"""gaps: sequence numbers skipped in a conversation as a client saw it after its resume logic;
duplicates: a record seen twice by one connection outside a replay it asked for; missing_at_end:
records the final check found that a connection never received; replayed: records received through
`sync`; unanswered: sends with no echo when the run ended."""


@dataclass
class Metrics:
    """One process's measurements; `merge` adds another's (workers, seconds)."""
    latency: dict[str, Histogram] = field(default_factory=lambda: {k: Histogram() for k in LATENCIES})
    counters: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)   # by kind: "close 4008", "error frame: ...", "connect: ..."

    def merge(self, other: Metrics) -> None:
        for k, h in other.latency.items():
            self.latency.setdefault(k, Histogram()).merge(h)
        self.counters.update(other.counters)
        self.errors.update(other.errors)

    def to_json(self) -> dict[str, Any]:
        return {"latency": {k: h.to_json() for k, h in self.latency.items()}, "counters": dict(self.counters),
                "errors": dict(self.errors)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metrics:
        m = cls()
        m.latency = {k: Histogram.from_json(v) for k, v in data["latency"].items()}
        m.counters = Counter(data["counters"])
        m.errors = Counter(data["errors"])
        return m


def format_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(r: tuple) -> str:
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)])


def summary_text(result: dict[str, Any]) -> str:
    """The end-of-run table a person reads (the JSON holds the same numbers)."""
    out = [f"scenario {result['scenario']}: {result['target']}  measured {result['measured_s']:.1f} s"
           f"  connections {result['connections']['established']}/{result['connections']['planned']}"]
    thr = result["throughput"]
    out.append(f"throughput: sent {thr['sent_per_s']:.1f}/s, delivered {thr['delivered_per_s']:.1f}/s,"
               f" echoed {thr['echoed_per_s']:.1f}/s" + (f" (offered {thr['offered_per_s']:.1f}/s)"
                                                        if thr.get("offered_per_s") else ""))
    rows = []
    for name in LATENCIES:
        s = result["latency"].get(name)
        if s and s["count"]:
            rows.append((name, s["count"], f"{s['p50_ms']:.2f}", f"{s['p90_ms']:.2f}", f"{s['p99_ms']:.2f}",
                         f"{s['max_ms']:.2f}"))
    if rows:
        out.append(format_table(rows, ("latency (ms)", "count", "p50", "p90", "p99", "max")))
    c = result["counters"]
    out.append("counts: " + ", ".join(f"{k} {c.get(k, 0)}" for k in COUNTERS))
    errors = result["errors"]
    if errors:
        out.append(format_table([(k, n) for k, n in sorted(errors.items(), key=lambda kv: -kv[1])],
                                ("errors by kind", "count")))
    else:
        out.append("errors: none")
    return "\n".join(out)
