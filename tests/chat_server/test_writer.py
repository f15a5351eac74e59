"""Group commit across nodes: two writers (two nodes' worth) storing into the same conversations in
opposite orders at once neither deadlock nor lose, duplicate or reorder anything."""
import asyncio

from chat_server.data.conversations import NewMessage
from chat_server.writer import MessageWriter
from shared.db import create_pool


def message(user_id: int, text: str) -> NewMessage:
    return NewMessage(shop_id=1, user_id=user_id, from_id=user_id, from_type="user", to_id=2, to_type="kefu",
                      msg=text, msg_type=1, client_msg_id=text, nickname=f"u{user_id}", client=6)


async def test_two_writers_in_opposite_orders_do_not_deadlock(db_dsn, db):
    pool = await create_pool(db_dsn, min_size=2, max_size=6)
    writers = [MessageWriter(pool, max_batch=64), MessageWriter(pool, max_batch=64)]
    for writer in writers:
        writer.start()
    users = list(range(1, 11))
    try:
        async def node(writer: MessageWriter, order: list[int], tag: str) -> list:
            results = []
            for round_no in range(8):
                results += await asyncio.gather(*(writer.store(message(u, f"{tag}{round_no}-{u}"), 2) for u in order))
            return results

        stored = await asyncio.gather(node(writers[0], users, "a"), node(writers[1], users[::-1], "b"))
    finally:
        for writer in writers:
            await writer.stop()
        await pool.close()
    assert sum(len(s) for s in stored) == 2 * 8 * len(users)
    for user_id in users:
        seqs = [r["seq"] for r in await db.fetch(
            "SELECT seq FROM chat_record WHERE shop_id = 1 AND user_id = $1 ORDER BY seq", user_id)]
        assert seqs == list(range(1, 17))
    assert sum(w.batches for w in writers) < 2 * 8 * len(users)   # they did batch
