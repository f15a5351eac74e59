"""Migration runner: applies `sql/NNNN_name.sql` files in order, each in its own transaction.

Applied versions are recorded in `schema_migrations` with the file's checksum. A session-level
advisory lock makes concurrent runners (two processes starting at once) take turns: the second
waits, then finds nothing pending. Re-running is a no-op. A file that changed after it was applied
is an error, not a silent re-apply.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.settings import REPO_ROOT

log = logging.getLogger("kefu.migrate")

MIGRATIONS_DIR = REPO_ROOT / "sql"
# An arbitrary constant that names "kefu schema migrations" among advisory locks.
LOCK_KEY = 0x6B656675_0001
_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _NAME_RE.match(path.name)
        if not m:
            raise MigrationError(f"migration file name must look like 0001_name.sql: {path.name}")
        found.append(Migration(int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number in {directory}")
    return found


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the names applied by this call."""
    migrations = load_migrations(directory)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())")
            applied = {r["version"]: r for r in await conn.fetch("SELECT * FROM schema_migrations")}
            done = []
            for mig in migrations:
                row = applied.get(mig.version)
                if row is not None:
                    if row["checksum"] != mig.checksum:
                        raise MigrationError(f"{mig.name} changed after it was applied; "
                                             "add a new migration instead of editing an applied one")
                    continue
                async with conn.transaction():
                    await conn.execute(mig.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        mig.version, mig.name, mig.checksum)
                log.info("applied migration %s", mig.name)
                done.append(mig.name)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()
