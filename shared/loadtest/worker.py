"""A load-test worker process (`python -m shared.loadtest.worker`): one share of the connections,
when one process cannot hold them all (open-file limit) or drive them all (one core).

Talks JSON lines: reads its plan, then `go <start>` (time.monotonic() of the common start) on
stdin; writes `ready` once connected, a `tick` every second and `final` at the end on stdout."""
from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

from shared.loadtest.engine import Engine
from shared.loadtest.net import raise_open_files
from shared.loadtest.plan import Plan


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


def tick(update: dict[str, Any]) -> None:
    emit({"type": "tick", "second": update["second"], "conns": update["conns"],
          "metrics": update["metrics"].to_json()})


async def work() -> None:
    loop = asyncio.get_running_loop()
    plan = Plan.from_json(orjson.loads(await loop.run_in_executor(None, sys.stdin.readline)))
    engine = Engine(plan, on_tick=tick)
    await engine.connect_all()
    emit({"type": "ready", "established": engine.established})
    command = (await loop.run_in_executor(None, sys.stdin.readline)).split()
    if not command or command[0] != "go":
        await engine.close()
        return
    result = await engine.run(float(command[1]))
    result["metrics"] = result["metrics"].to_json()
    emit({"type": "final", **result})


def main() -> None:
    raise_open_files()
    try:
        import uvloop
    except ImportError:   # pragma: no cover - uvloop is a dependency everywhere but Windows
        uvloop = None
    (uvloop.run if uvloop else asyncio.run)(work())


if __name__ == "__main__":
    main()
