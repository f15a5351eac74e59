"""Migrations: `kefu migrate` applies from empty, re-runs as a no-op, takes turns with a concurrent
runner, and refuses an applied migration that changed."""
from __future__ import annotations

import subprocess

import asyncpg
import pytest

from shared.migrate import MigrationError, load_migrations, migrate
from tests.conftest import run_sync
from tests.shared.helpers import KEFU, kefu_env


async def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def _applied(dsn: str) -> list[tuple[int, str]]:
    return [(r["version"], r["name"]) for r in
            run_sync(_fetch(dsn, "SELECT version, name FROM schema_migrations ORDER BY version"))]


def _tables(dsn: str) -> set[str]:
    rows = run_sync(_fetch(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    return {r["tablename"] for r in rows}


EXPECTED = [(m.version, m.name) for m in load_migrations()]


def test_kefu_migrate_applies_from_empty_then_is_a_no_op(empty_db):
    first = subprocess.run([KEFU, "migrate"], env=kefu_env(DATABASE_URL=empty_db),
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert [line for line in first.stdout.splitlines()] == [f"applied {name}" for _, name in EXPECTED]
    assert _applied(empty_db) == EXPECTED
    tables = _tables(empty_db)
    assert {"user", "goods", "kefu", "chat_record", "schema_migrations"} <= tables

    again = subprocess.run([KEFU, "migrate"], env=kefu_env(DATABASE_URL=empty_db),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "database schema up to date"
    assert _applied(empty_db) == EXPECTED
    assert _tables(empty_db) == tables


def test_two_concurrent_migrate_processes_apply_the_schema_once(empty_db):
    env = kefu_env(DATABASE_URL=empty_db)
    procs = [subprocess.Popen([KEFU, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    outputs = sorted(out.strip() for out, _ in results)
    # One runner applied everything; the other waited on the lock and found nothing to do.
    assert outputs == sorted(["\n".join(f"applied {name}" for _, name in EXPECTED), "database schema up to date"])
    assert _applied(empty_db) == EXPECTED


def test_changed_applied_migration_is_refused(empty_db, tmp_path):
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first_table (x int);")
    (tmp_path / "0002_second.sql").write_text("CREATE TABLE second_table (y int);")
    assert run_sync(migrate(empty_db, tmp_path)) == ["0001_first.sql", "0002_second.sql"]
    assert run_sync(migrate(empty_db, tmp_path)) == []

    (tmp_path / "0002_second.sql").write_text("CREATE TABLE second_table (y bigint);")
    (tmp_path / "0003_third.sql").write_text("CREATE TABLE third_table (z int);")
    with pytest.raises(MigrationError, match="0002_second.sql changed after it was applied"):
        run_sync(migrate(empty_db, tmp_path))
    # Nothing after the refused file was applied.
    assert _applied(empty_db) == [(1, "0001_first.sql"), (2, "0002_second.sql")]
    assert "third_table" not in _tables(empty_db)


def test_failing_migration_is_rolled_back_whole(empty_db, tmp_path):
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE half_done (x int); SELECT no_such_column FROM half_done;")
    with pytest.raises(asyncpg.UndefinedColumnError):
        run_sync(migrate(empty_db, tmp_path))
    assert "half_done" not in _tables(empty_db)
    assert _applied(empty_db) == []


def test_kefu_migrate_reports_an_unreachable_database():
    from shared.pgserver import free_port
    proc = subprocess.run([KEFU, "migrate"], env=kefu_env(DATABASE_URL=f"postgresql://x@127.0.0.1:{free_port()}/x"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("kefu: cannot reach the database")
    assert "Traceback" not in proc.stderr
