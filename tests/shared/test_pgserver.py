"""The private Postgres of `kefu demo` and the tests: starts in a folder, serves, adopts a server
already running on its folder, keeps its data across restarts, and stops."""
from __future__ import annotations

import asyncio

import pytest

from shared.pgserver import PgServer
from tests.conftest import run_sync
from tests.shared.helpers import fetchval


def _refuses(dsn: str) -> bool:
    try:
        run_sync(fetchval(dsn, "SELECT 1"))
    except (OSError, asyncio.TimeoutError):
        return True
    return False


@pytest.mark.slow
def test_start_adopt_restart_and_stop(pg_folder):
    datadir = pg_folder / "pg"
    first = PgServer(datadir)
    dsn = first.start()
    try:
        assert (datadir / "PG_VERSION").exists()
        assert run_sync(fetchval(dsn, "SELECT current_user")) == "postgres"
        run_sync(fetchval(dsn, "CREATE TABLE kept (x int)"))
        postmaster_pid = (datadir / "postmaster.pid").read_text().splitlines()[0]

        # A second start() on a running folder adopts that server instead of starting another.
        second = PgServer(datadir)
        assert second.running_port() == first.port
        assert second.start() == dsn
        assert (datadir / "postmaster.pid").read_text().splitlines()[0] == postmaster_pid

        second.stop()
        assert first.running_port() is None
        assert not (datadir / "postmaster.pid").exists()
        assert _refuses(dsn)

        # Started again on the same folder: no new initdb, the data is still there.
        dsn = first.start()
        assert run_sync(fetchval(dsn, "SELECT count(*) FROM kept")) == 0
    finally:
        first.stop()
    assert _refuses(dsn)
