"""What a person sees: the live progress line, the result document (the JSON), the summary table
and the optional histogram picture."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from shared.loadtest.metrics import LATENCIES, Histogram, Metrics


def progress_line(second: int, conns: int, planned: int, m: Metrics) -> str:
    c = m.counters

    def p99(kind: str) -> str:
        h = m.latency.get(kind)
        return f"{h.percentile(99) / 1000:.1f} ms" if h is not None and h.count else "-"
    return (f"[{second:4d}s] conns {conns}/{planned}  sent {c.get('sent', 0)}/s  delivered {c.get('delivered', 0)}/s"
            f"  echoed {c.get('echoed', 0)}/s  errors {sum(m.errors.values())}  reconnects {c.get('reconnects', 0)}"
            f"  p99 delivery {p99('delivery')}  echo {p99('echo')}  ping {p99('ping')}")


def build_result(scenario: str, target: str, metrics: Metrics, *, planned: int, established: int, peak: int,
                 alive_at_end: int, measured_s: float, offered: float | None, workers: int,
                 sources: list[str | None], phases: dict[str, float], options: dict[str, Any]) -> dict[str, Any]:
    c = metrics.counters
    per_s = lambda name: round(c.get(name, 0) / measured_s, 2) if measured_s > 0 else 0.0
    return {
        "scenario": scenario, "target": target, "measured_s": round(measured_s, 3),
        "connections": {"planned": planned, "established": established, "peak": peak, "alive_at_end": alive_at_end},
        "throughput": {"offered_per_s": offered, "sent_per_s": per_s("sent"), "delivered_per_s": per_s("delivered"),
                       "echoed_per_s": per_s("echoed")},
        "latency": {k: h.summary() for k, h in metrics.latency.items()},
        "counters": dict(c), "errors": dict(metrics.errors),
        "histograms": {k: h.to_json() for k, h in metrics.latency.items() if h.count},
        "workers": workers, "sources": [s or "auto" for s in sources], "phases": phases, "options": options,
    }


def write_histogram(result: dict[str, Any], path: Path) -> str:
    """A latency-by-percentile plot (log scales, as HdrHistogram plots them); a sentence saying what
    happened, since matplotlib is optional."""
    if importlib.util.find_spec("matplotlib") is None:
        return f"no histogram written to {path}: matplotlib is not installed (pip install matplotlib)"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    plotted = 0
    for kind in LATENCIES:
        data = result["histograms"].get(kind)
        if not data:
            continue
        h = Histogram.from_json(data)
        xs, ys, seen = [], [], 0
        for upper, n in h.points():
            seen += n
            frac = seen / h.count
            xs.append(1 / (1 - frac) if frac < 1 else 1 / (1 - 0.999999))
            ys.append(min(upper, h.max) / 1000)
        ax.step(xs, ys, where="post", label=f"{kind} (n={h.count})")
        plotted += 1
    if not plotted:
        plt.close(fig)
        return f"no histogram written to {path}: no latency was measured"
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000, 100000]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"kefu loadtest {result['scenario']}: {result['target']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"histogram written to {path}"
