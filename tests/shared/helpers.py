"""Helpers of the tests that run `kefu` as a process or look into a database directly."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import asyncpg

from shared.settings import Settings

KEFU = str(Path(sys.executable).parent / "kefu")
# Every variable the services read (as_env leaves out the unset optional ones) and the demo folder.
SETTINGS_VARIABLES = (set(Settings.from_env({}).as_env())
                      | {"DATABASE_URL", "REDIS_URL", "INTERNAL_API_KEY", "KEFU_VAR_DIR"})


def kefu_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any kefu setting, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(overrides)
    return env


async def fetchval(dsn: str, sql: str):
    """The first value `sql` answers, on a connection of its own; connecting gives up after 10 s, so
    that a server that is gone fails the call instead of hanging the test."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
