"""py-spy on a running server: a flame graph (SVG) and a text summary of where its CPU goes —
per function (self and inclusive, as a share of the samples in which it was on CPU) and per
package (the project's code, aiohttp, asyncpg, the event loop ...).

    python -m bench.profile PID [SECONDS]       # profile any running chat server
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")


@dataclass
class Spy:
    procs: list[subprocess.Popen]
    raw: Path
    svg: Path


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def start(pid: int, folder: Path, duration: float, name: str = "chat_profile") -> Spy | None:
    binary = py_spy()
    if binary is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    raw, svg = folder / f"{name}.collapsed", folder / f"{name}.svg"
    common = ["record", "--pid", str(pid), "--duration", str(int(duration)), "--rate", "200"]
    # The collapsed stacks include native frames (the garbage collector, uvloop, asyncpg's C, system
    # calls; native unwinding needs the target paused at each sample); the flame graph stays at the
    # Python level, which is what the code can change, and does not pause it.
    procs = [subprocess.Popen([binary, *common, *extra, "--format", fmt, "-o", str(out)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for fmt, out, extra in (("raw", raw, ["--native"]), ("flamegraph", svg, ["--nonblocking"]))]
    return Spy(procs, raw, svg)


def package_of(path: str) -> str:
    if "/chat_server/" in path or path.startswith("chat_server/"):
        return "chat_server (project)"
    if "/shared/" in path and "site-packages" not in path:
        return "shared (project)"
    for name in ("aiohttp", "asyncpg", "uvloop", "orjson", "msgspec", "redis", "yarl", "multidict", "asyncio"):
        if f"/{name}/" in path:
            return name
    return "other (stdlib, interpreter)"


def summarise(raw: Path, top: int = 25) -> str:
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    for line in raw.read_text().splitlines():
        head, _, count = line.rpartition(" ")
        if not head or not count.isdigit():
            continue
        frames = []
        for part in head.split(";"):
            m = FRAME.match(part)
            frames.append((m["func"], m["file"]) if m else (part, ""))
        stacks.append((frames, int(count)))
    total = sum(n for _, n in stacks)
    if not total:
        return "no samples"
    self_time, inclusive, packages, native = Counter(), Counter(), Counter(), Counter()
    for frames, n in stacks:
        # Python-level attribution: the innermost Python frame (native frames below it are its work).
        python = [(f, p) for f, p in frames if p.endswith(".py") or p.startswith("<frozen")]
        if not python:
            continue
        func, path = python[-1]
        self_time[f"{func} ({path})"] += n
        packages[package_of(path)] += n
        for key in {f"{f} ({p})" for f, p in python if package_of(p) == "chat_server (project)"}:
            inclusive[key] += n
        if any("gc_collect" in f for f, _ in frames):
            native["garbage collection (CPython gc)"] += n
        elif frames[-1][1].startswith("libc") or frames[-1][0].startswith("0x"):
            native["in the C library / kernel (system calls: send, recv, epoll)"] += n
    pct = lambda n: f"{100 * n / total:5.1f}%"
    out = [f"{total} samples of the chat server on CPU (py-spy, 200 Hz)", "", "CPU by package (self time):"]
    out += [f"  {pct(n)}  {name}" for name, n in packages.most_common()]
    if native:
        out += ["", "native frames (whole stacks):"] + [f"  {pct(n)}  {name}" for name, n in native.most_common()]
    out += ["", "chat_server functions, inclusive (time in the function and what it calls):"]
    out += [f"  {pct(n)}  {name}" for name, n in inclusive.most_common(top)]
    out += ["", "hottest functions, self time (any package):"]
    out += [f"  {pct(n)}  {name}" for name, n in self_time.most_common(top)]
    return "\n".join(out)


def finish(spy: Spy, folder: Path, name: str = "chat_profile") -> str:
    for proc in spy.procs:
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not spy.raw.exists():
        return "py-spy wrote nothing (is ptrace allowed here?)"
    text = summarise(spy.raw)
    summary = folder / f"{name}.txt"
    summary.write_text(text + "\n")
    return f"flame graph {spy.svg.name}, summary {summary.name}, collapsed stacks {spy.raw.name} in {folder}"


def main() -> None:
    pid = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    folder = Path(__file__).resolve().parent / "results"
    spy = start(pid, folder, seconds)
    if spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    print(finish(spy, folder))
    print((folder / "chat_profile.txt").read_text())


if __name__ == "__main__":
    main()
