"""CPU time and memory of processes, from /proc, sampled in the background so that a measurement
window given afterwards (the load tester's measured phase, in CLOCK_MONOTONIC) can be cut out.

CPU is utime + stime of /proc/<pid>/stat (every thread of the process), in seconds; a group (the
Postgres server) sums its processes, found again at every sample since backends come and go.
"""
from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2:].split()   # the fields after "pid (comm)"


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICK    # utime, stime (fields 14 and 15 of stat)


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def children(pid: int) -> list[int]:
    """Direct children of `pid` (Postgres backends of a postmaster)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def group_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue   # exited between listing and reading
    return total


class Sampler:
    """Samples named groups of processes every `period` seconds until stopped."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]], period: float = 0.1):
        self.groups = groups
        self.period = period
        self.times: list[float] = []
        self.cpu: dict[str, list[float]] = {name: [] for name in groups}
        self.rss: dict[str, list[int]] = {name: [] for name in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="procstat")

    def sample(self) -> None:
        now = time.monotonic()
        for name, pids_of in self.groups.items():
            pids = pids_of()
            self.cpu[name].append(group_cpu(pids))
            rss = 0
            for pid in pids:
                try:
                    rss += rss_bytes(pid)
                except (OSError, ValueError, IndexError):
                    pass
            self.rss[name].append(rss)
        self.times.append(now)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.period)

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _at(self, series: list, t: float) -> float:
        """Linear interpolation of a series at time t."""
        i = bisect.bisect_left(self.times, t)
        if i <= 0:
            return series[0]
        if i >= len(self.times):
            return series[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = series[i - 1], series[i]
        return v0 + (v1 - v0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0)

    def cpu_between(self, name: str, t0: float, t1: float) -> float:
        return self._at(self.cpu[name], t1) - self._at(self.cpu[name], t0)

    def rss_at(self, name: str, t: float) -> float:
        return self._at(self.rss[name], t)
