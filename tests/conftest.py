"""Test harness: a real Postgres, one migrated and seeded template database per run, and a fresh
copy of it for every test that asks for `db_dsn` (CREATE DATABASE ... TEMPLATE takes ~0.1 s).

With DATABASE_URL set, its server is used (databases are created beside the one it names and
dropped at the end); otherwise a private server is started under a temporary folder.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Coroutine, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from shared.demo_data import seed_demo
from shared.migrate import migrate
from shared.pgserver import PgServer
from shared.settings import Settings

INTERNAL_KEY = "test-internal-key-0123456789"


def run_sync(coro: Coroutine) -> Any:
    """Run a coroutine to completion from sync code, on a private loop in another thread, so that
    pytest-asyncio's loop is left alone."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    """A DSN for a maintenance database on the Postgres server the tests use."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="kefu-test-pg-"))
    server = PgServer(folder / "data")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def admin_sql(dsn: str, *statements: str) -> None:
    """Run statements one by one, each outside any transaction (CREATE and DROP DATABASE refuse to
    run inside one), on a connection of their own."""
    conn = await asyncpg.connect(dsn)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def database(server_dsn: str, name: str, template: str | None = None) -> Iterator[str]:
    """A new database `name` on the server (a copy of `template` when given) for the duration of
    the block, dropped after it; yields its DSN."""
    create = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    run_sync(admin_sql(server_dsn, create))
    try:
        yield with_database(server_dsn, name)
    finally:
        run_sync(admin_sql(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def template_db(pg_server_dsn: str) -> str:
    name = f"kefu_tpl_{os.getpid()}_{secrets.token_hex(3)}"
    with database(pg_server_dsn, name) as dsn:
        run_sync(migrate(dsn))
        run_sync(seed_demo(dsn))
        yield name


@pytest.fixture
def db_dsn(pg_server_dsn: str, template_db: str) -> str:
    """A private, migrated and seeded database for one test."""
    with database(pg_server_dsn, f"kefu_t_{secrets.token_hex(5)}", template_db) as dsn:
        yield dsn


@pytest.fixture
def settings_env(db_dsn: str, tmp_path: Path) -> dict[str, str]:
    """The environment the services would get; tests may change it before building Settings."""
    return {
        "DATABASE_URL": db_dsn,
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "5",
        "TIME_ZONE": "Asia/Shanghai",
    }


@pytest.fixture
def settings(settings_env: dict[str, str]) -> Settings:
    return Settings.from_env(settings_env)


@pytest.fixture
async def db(db_dsn: str) -> asyncpg.Connection:
    """A direct connection to the test's database, for arranging and checking rows."""
    conn = await asyncpg.connect(db_dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def commerce(settings: Settings, aiohttp_client):
    # settings (and so the database) first: fixtures are torn down in reverse, the app before its database
    """A running commerce API (real TCP, real Postgres) and a client for it."""
    from commerce_api.app import create_app
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def chat(settings: Settings, aiohttp_client):
    """A running chat server and a client for it."""
    from chat_server.app import create_app
    return await aiohttp_client(create_app(settings))


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """A Redis for multi-node tests: REDIS_URL when set, else a private redis-server on a free port."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("multi-node tests need Redis: set REDIS_URL or install redis-server "
                    "(apt-get install redis-server); .ci/run installs it")
    import socket
    import subprocess
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="kefu-test-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """A Redis database of its own for one test (flushed before use)."""
    import redis as redis_sync
    base = redis_server_url.rsplit("/", 1)[0]
    db_index = 1 + secrets.randbelow(15)
    url = f"{base}/{db_index}"
    redis_sync.Redis.from_url(url).flushdb()
    return url
