"""`kefu seed-demo --buyers N --tokens FILE`: N load-test buyers in bulk, each with a live client-6
session whose token opens a chat connection; rerunnable; the demo data untouched."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.chat_client import connect
from shared.demo_data import BULK_MOBILE_BASE, seed_bulk_buyers, seed_bulk_kefu
from tests.chat_server.conftest import chat_settings, commerce_server, live  # noqa: F401  (fixtures)

KEFU = str(Path(sys.executable).parent / "kefu")


async def bulk_state(db) -> dict:
    row = await db.fetchrow(
        'SELECT count(*) AS buyers, count(DISTINCT u.password) AS hashes,'
        " count(s.id) FILTER (WHERE s.expire_time > now() AND s.client = 6) AS live_sessions"
        ' FROM "user" u LEFT JOIN session s ON s.user_id = u.id WHERE u.mobile LIKE $1', "139%")
    return dict(row)


async def test_bulk_buyers_rows_sessions_and_rerun(db, db_dsn):
    demo_before = await db.fetchval('SELECT count(*) FROM "user" WHERE mobile LIKE $1', "138%")
    tokens = await seed_bulk_buyers(db_dsn, 300)
    assert len(tokens) == len(set(tokens)) == 300
    assert await bulk_state(db) == {"buyers": 300, "hashes": 1, "live_sessions": 300}
    stored = await db.fetch('SELECT u.mobile, s.token FROM "user" u JOIN session s ON s.user_id = u.id'
                            " WHERE u.mobile LIKE '139%' ORDER BY u.mobile")
    assert [r["mobile"] for r in stored] == [str(BULK_MOBILE_BASE + n) for n in range(1, 301)]
    assert [r["token"] for r in stored] == tokens          # in buyer order

    # Rerun with more: the first 300 are kept (new tokens), 200 are added, nothing else changes.
    ids_before = await db.fetchval('SELECT array_agg(id ORDER BY id) FROM "user" WHERE mobile LIKE $1', "139%")
    again = await seed_bulk_buyers(db_dsn, 500)
    # one password hash per seeding run, never one per buyer
    assert await bulk_state(db) == {"buyers": 500, "hashes": 2, "live_sessions": 500}
    assert not set(again) & set(tokens)
    ids_after = await db.fetchval('SELECT array_agg(id ORDER BY id) FROM "user" WHERE mobile LIKE $1', "139%")
    assert ids_after[:300] == ids_before
    assert await db.fetchval("SELECT count(*) FROM session WHERE token = ANY($1::text[])", tokens) == 0
    assert await db.fetchval('SELECT count(*) FROM "user" WHERE mobile LIKE $1', "138%") == demo_before


async def test_bulk_tokens_open_chat_connections(live, db_dsn):
    tokens = await seed_bulk_buyers(db_dsn, 5)
    for token in (tokens[0], tokens[-1]):
        client = await connect(live.ws_base, token, "user", 6, 1, ping_interval=None)   # ping + login seen
        await client.close()


async def test_bulk_buyer_logs_in_with_the_demo_password(commerce, db_dsn):
    await seed_bulk_buyers(db_dsn, 3)
    resp = await commerce.post("/api/account/login",
                               json={"mobile": str(BULK_MOBILE_BASE + 3), "password": "user123456", "client": 6})
    body = await resp.json()
    assert resp.status == 200 and body["code"] == 1 and len(body["data"]["token"]) == 32


def test_bad_count_is_refused():
    with pytest.raises(ValueError):
        import asyncio
        asyncio.run(seed_bulk_buyers("postgresql://unused/x", 0))


def test_cli_writes_one_token_per_line(db_dsn, tmp_path):
    out = tmp_path / "tokens.txt"
    env = {**os.environ, "DATABASE_URL": db_dsn, "UPLOAD_DIR": str(tmp_path / "uploads")}
    proc = subprocess.run([KEFU, "seed-demo", "--buyers", "7", "--tokens", str(out)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 7 and all(len(t) == 32 and int(t, 16) >= 0 for t in lines)
    assert "7 load-test buyers" in proc.stdout
    # --buyers without --tokens is a usage error, reported in one line
    proc = subprocess.run([KEFU, "seed-demo", "--buyers", "7"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 1 and "--buyers and --tokens go together" in proc.stderr


async def test_bulk_kefu_sessions_open_console_connections(live, db_dsn, db):
    kefu = await seed_bulk_kefu(db_dsn, 6)
    assert len({k for k, _, _ in kefu}) == 6 and all(shop == 1 for _, shop, _ in kefu)
    assert await db.fetchval("SELECT count(*) FROM kefu WHERE id = ANY($1::int[]) AND shop_id = 1 AND del = 0",
                             [k for k, _, _ in kefu]) == 6
    again = await seed_bulk_kefu(db_dsn, 6)            # rerun: same kefu, new tokens
    assert [k for k, _, _ in again] == [k for k, _, _ in kefu] and again[0][2] != kefu[0][2]
    _, shop_id, token = again[-1]
    client = await connect(live.ws_base, token, "kefu", 5, shop_id, ping_interval=None)
    await client.close()
