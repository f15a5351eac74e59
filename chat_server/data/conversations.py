"""SQL of conversations: `chat_relation` (one row per (shop, buyer)) and `chat_record` (messages).

A message is stored by one statement that bumps the conversation's `last_seq` under its row lock
and inserts the record with that seq: atomic, gap-free, in commit order, and a failed insert (a
duplicate `client_msg_id`) rolls the bump back with it.
"""
from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import orjson

DB = asyncpg.Pool | asyncpg.Connection

RELATION_COLUMNS = ("id, shop_id, user_id, kefu_id, nickname, avatar, client, msg, msg_type, is_read, unread,"
                    " last_seq, kefu_read_seq, user_read_seq, create_time, update_time")

# A record with its sender's current nickname and avatar.
RECORD_SELECT = """
    SELECT r.id, r.shop_id, r.user_id, r.seq, r.from_id, r.from_type, r.to_id, r.to_type, r.msg, r.msg_type,
           r.is_read, r.type, r.client_msg_id, r.create_time, r.update_time,
           COALESCE(k.nickname, u.nickname, '') AS from_nickname, COALESCE(k.avatar, u.avatar, '') AS from_avatar
      FROM chat_record r
      LEFT JOIN kefu k ON r.from_type = 'kefu' AND k.id = r.from_id
      LEFT JOIN "user" u ON r.from_type = 'user' AND u.id = r.from_id
"""


NORMAL, NOTICE = 1, 2   # chat_record.type: a message, or a system notice (a transfer's)


@dataclass(frozen=True)
class NewMessage:
    shop_id: int
    user_id: int
    from_id: int
    from_type: str
    to_id: int
    to_type: str
    msg: str
    msg_type: int
    type: int = NORMAL              # NORMAL or NOTICE
    client_msg_id: str | None = None
    # buyer snapshot for the conversation row (used when the buyer sends)
    nickname: str = ""
    avatar: str = ""
    client: int = 0


class DuplicateMessage(Exception):
    """A (sender, client_msg_id) that was stored before."""


_STORE = """
WITH rel AS (
    INSERT INTO chat_relation AS cr (shop_id, user_id, kefu_id, nickname, avatar, client, msg, msg_type,
                                     is_read, unread, last_seq)
    VALUES ($1, $2, $3, $11, $12, $13, $7, $8, CASE WHEN $4 = 'user' THEN 0 ELSE 1 END,
            CASE WHEN $4 = 'user' THEN 1 ELSE 0 END, 1)
    ON CONFLICT (shop_id, user_id) DO UPDATE SET
        last_seq = cr.last_seq + 1,
        kefu_id = CASE WHEN cr.kefu_id = 0 THEN EXCLUDED.kefu_id ELSE cr.kefu_id END,
        -- a notice (type 2) is not a conversation's latest word
        msg = CASE WHEN $9 = 2 THEN cr.msg ELSE EXCLUDED.msg END,
        msg_type = CASE WHEN $9 = 2 THEN cr.msg_type ELSE EXCLUDED.msg_type END,
        -- a buyer's message is unread by the kefu team; a kefu's reply means it has been read
        is_read = CASE WHEN $9 = 2 THEN cr.is_read WHEN $4 = 'user' THEN 0 ELSE 1 END,
        unread = CASE WHEN $9 = 2 THEN cr.unread WHEN $4 = 'user' THEN cr.unread + 1 ELSE 0 END,
        kefu_read_seq = CASE WHEN $4 = 'kefu' AND $9 = 1 THEN cr.last_seq + 1 ELSE cr.kefu_read_seq END,
        nickname = CASE WHEN $4 = 'user' THEN EXCLUDED.nickname ELSE cr.nickname END,
        avatar = CASE WHEN $4 = 'user' THEN EXCLUDED.avatar ELSE cr.avatar END,
        client = CASE WHEN $4 = 'user' THEN EXCLUDED.client ELSE cr.client END,
        update_time = now()
    RETURNING last_seq, kefu_id
), rec AS (
    INSERT INTO chat_record (shop_id, user_id, seq, from_id, from_type, to_id, to_type, msg, msg_type,
                             type, client_msg_id)
    SELECT $1, $2, rel.last_seq, $5, $4, CASE WHEN $6 = 'kefu' THEN rel.kefu_id ELSE $2 END, $6, $7, $8, $9, $10
      FROM rel
    RETURNING id, seq, to_id, create_time
)
SELECT rec.id AS record_id, rec.seq AS record_seq, rec.to_id AS record_to_id,
       rec.create_time AS record_create_time, rel.kefu_id
  FROM rec, rel
"""


async def store_message(db: DB, m: NewMessage, owner_if_new: int) -> tuple[dict, dict]:
    """Store a message; returns (record, {"kefu_id": owner}). A buyer's message goes to the
    conversation's owner (`owner_if_new` when the conversation is new or has none).
    Raises DuplicateMessage."""
    try:
        row = await db.fetchrow(_STORE, m.shop_id, m.user_id, owner_if_new, m.from_type, m.from_id, m.to_type,
                                m.msg, m.msg_type, m.type, m.client_msg_id, m.nickname, m.avatar, m.client)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "chat_record_client_msg":
            raise DuplicateMessage from None
        raise
    return record_from_row(m, row), {"kefu_id": row["kefu_id"]}


_STORE_BATCH = "SELECT * FROM chat_store_batch($1::text[]::json[], $2::int[])"


async def store_messages(db: DB, items: list[tuple[NewMessage, int]]) -> list[tuple[dict, dict] | None]:
    """Store chat messages (type 1), each with its `owner_if_new`, in one statement (sql/0005): the
    outcome of `store_message` on each in turn. Returns, in the same order, (record,
    {"kefu_id": owner}) or None for a duplicate (of a stored message, or of an earlier one here)."""
    if any(m.type != NORMAL for m, _ in items):
        raise ValueError("store_messages stores chat messages (type 1) only")
    # The statement takes "waves" of messages of different conversations: the first message of
    # each conversation, then the second ones, and so on. A repeat of an earlier message's
    # (sender, client_msg_id) is a duplicate whatever becomes of the earlier one: it is not sent.
    waves: list[list[int]] = []
    depth: dict[tuple[int, int], int] = {}
    sent: set[tuple[str, int, str]] = set()
    for i, (m, _) in enumerate(items):
        if m.client_msg_id is not None:
            key = (m.from_type, m.from_id, m.client_msg_id)
            if key in sent:
                continue
            sent.add(key)
        n = depth.get((m.shop_id, m.user_id), 0)
        depth[(m.shop_id, m.user_id)] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(i)
    # One JSON text per wave rather than an array per field: orjson encodes the dataclasses at
    # once, where asyncpg would encode and check arrays element by element.
    rows = await db.fetch(_STORE_BATCH, [orjson.dumps([items[i][0] for i in wave]).decode() for wave in waves],
                          [items[i][1] for wave in waves for i in wave])
    sent_order = [i for wave in waves for i in wave]
    results: list[tuple[dict, dict] | None] = [None] * len(items)
    for row in rows:
        i = sent_order[row["position"] - 1]
        results[i] = record_from_row(items[i][0], row), {"kefu_id": row["kefu_id"]}
    return results


def record_from_row(m: NewMessage, row: asyncpg.Record) -> dict:
    """The stored record as a dict, from the message and what the store statement returned. A new
    record's update_time is its create_time: both are the transaction's now()."""
    return {
        "id": row["record_id"], "shop_id": m.shop_id, "user_id": m.user_id, "seq": row["record_seq"],
        "from_id": m.from_id, "from_type": m.from_type, "to_id": row["record_to_id"], "to_type": m.to_type,
        "msg": m.msg, "msg_type": m.msg_type, "is_read": 0, "type": m.type, "client_msg_id": m.client_msg_id,
        "create_time": row["record_create_time"], "update_time": row["record_create_time"],
    }


async def record_by_client_msg_id(db: DB, from_type: str, from_id: int, client_msg_id: str) -> dict | None:
    row = await db.fetchrow(RECORD_SELECT + " WHERE r.from_type = $1 AND r.from_id = $2 AND r.client_msg_id = $3",
                            from_type, from_id, client_msg_id)
    return dict(row) if row else None


async def relation(db: DB, shop_id: int, user_id: int) -> dict | None:
    row = await db.fetchrow(f"SELECT {RELATION_COLUMNS} FROM chat_relation WHERE shop_id = $1 AND user_id = $2",
                            shop_id, user_id)
    return dict(row) if row else None


async def open_conversation(db: DB, shop_id: int, user_id: int, kefu_id: int, nickname: str, avatar: str,
                            client: int) -> dict:
    """`user_online`: create or refresh the conversation row with its owner and buyer snapshot."""
    row = await db.fetchrow(
        f"""INSERT INTO chat_relation (shop_id, user_id, kefu_id, nickname, avatar, client)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (shop_id, user_id) DO UPDATE SET kefu_id = EXCLUDED.kefu_id, nickname = EXCLUDED.nickname,
                avatar = EXCLUDED.avatar, client = EXCLUDED.client, update_time = now()
            RETURNING {RELATION_COLUMNS}""", shop_id, user_id, kefu_id, nickname, avatar, client)
    return dict(row)


async def transfer(pool: asyncpg.Pool, shop_id: int, user_id: int, from_kefu: int, to_kefu: int, notice: NewMessage
                   ) -> tuple[dict, dict] | None:
    """Hand a conversation from its owner to another kefu and store the notice, in one transaction.
    None when `from_kefu` does not own it (any more)."""
    async with pool.acquire() as conn, conn.transaction():
        moved = await conn.fetchval(
            "UPDATE chat_relation SET kefu_id = $4 WHERE shop_id = $1 AND user_id = $2 AND kefu_id = $3 RETURNING id",
            shop_id, user_id, from_kefu, to_kefu)
        if moved is None:
            return None
        record, _ = await store_message(conn, notice, to_kefu)
        return record, await relation(conn, shop_id, user_id)


async def mark_read_by_kefu(pool: asyncpg.Pool, shop_id: int, user_id: int) -> dict | None:
    """The kefu team has read everything so far: the compatible flag, the count and the receipt."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE chat_relation SET is_read = 1, unread = 0, kefu_read_seq = last_seq
                 WHERE shop_id = $1 AND user_id = $2 RETURNING {RELATION_COLUMNS}""", shop_id, user_id)
        if row is None:
            return None
        await conn.execute(
            "UPDATE chat_record SET is_read = 1, update_time = now() WHERE shop_id = $1 AND user_id = $2"
            " AND from_type = 'user' AND is_read = 0", shop_id, user_id)
        return dict(row)


async def mark_read_by_user(db: DB, shop_id: int, user_id: int) -> dict | None:
    row = await db.fetchrow(
        f"""UPDATE chat_relation SET user_read_seq = last_seq WHERE shop_id = $1 AND user_id = $2
            RETURNING {RELATION_COLUMNS}""", shop_id, user_id)
    return dict(row) if row else None


async def records_after(db: DB, shop_id: int, user_id: int, after_seq: int, limit: int) -> list[dict]:
    rows = await db.fetch(RECORD_SELECT + " WHERE r.shop_id = $1 AND r.user_id = $2 AND r.seq > $3"
                          " ORDER BY r.seq LIMIT $4", shop_id, user_id, after_seq, limit)
    return [dict(r) for r in rows]


async def history_page(db: DB, shop_id: int, user_id: int, page_no: int, page_size: int) -> tuple[list[dict], int]:
    """Page `page_no` counted from the newest; each page oldest→newest. Returns (rows, total)."""
    total = await db.fetchval("SELECT last_seq FROM chat_relation WHERE shop_id = $1 AND user_id = $2",
                              shop_id, user_id) or 0
    rows = await db.fetch(RECORD_SELECT + " WHERE r.shop_id = $1 AND r.user_id = $2"
                          " ORDER BY r.seq DESC LIMIT $3 OFFSET $4",
                          shop_id, user_id, page_size, (page_no - 1) * page_size)
    return [dict(r) for r in reversed(rows)], total


async def kefu_conversations(db: DB, kefu_id: int, online_user_ids: list[int], nickname: str | None,
                             page_no: int, page_size: int) -> tuple[list[dict], int]:
    """The conversations a kefu owns: online buyers first, then latest activity."""
    pattern = f"%{_escape_like(nickname)}%" if nickname else None
    where = "kefu_id = $1 AND ($2::text IS NULL OR nickname ILIKE $2)"
    total = await db.fetchval(f"SELECT count(*) FROM chat_relation WHERE {where}", kefu_id, pattern)
    rows = await db.fetch(
        f"SELECT {RELATION_COLUMNS} FROM chat_relation WHERE {where}"
        " ORDER BY (user_id = ANY($3::int[])) DESC, update_time DESC, id DESC LIMIT $4 OFFSET $5",
        kefu_id, pattern, online_user_ids, page_size, (page_no - 1) * page_size)
    return [dict(r) for r in rows], total


async def conversation_exists(db: DB, shop_id: int, user_id: int) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM chat_relation WHERE shop_id = $1 AND user_id = $2",
                                  shop_id, user_id))


async def owner_loads(db: DB, shop_id: int, kefu_ids: list[int]) -> dict[int, int]:
    """How many conversations each kefu owns (the tie-breaker when nobody is online)."""
    rows = await db.fetch("SELECT kefu_id, count(*) AS n FROM chat_relation WHERE shop_id = $1"
                          " AND kefu_id = ANY($2::int[]) GROUP BY kefu_id", shop_id, kefu_ids)
    return {r["kefu_id"]: r["n"] for r in rows}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def owned_user_ids(db: DB, shop_id: int, kefu_id: int) -> list[int]:
    """The buyers whose conversation with the shop this kefu owns (to ask presence who is online)."""
    rows = await db.fetch("SELECT user_id FROM chat_relation WHERE shop_id = $1 AND kefu_id = $2", shop_id, kefu_id)
    return [r["user_id"] for r in rows]
