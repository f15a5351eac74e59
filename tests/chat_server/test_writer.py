"""Group commit (chat_server/writer.py, `chat_store_batch` in sql/0005).

* Property: whatever the batch (buyers and kefu of several shops, new and existing conversations,
  several messages of one conversation, owners to give or not, notices, retried and repeated
  client_msg_ids), storing it through the writer leaves exactly the rows, and gives exactly the
  answers, that the single-message statement (`conversations.store_message`) gives message by
  message in the same order, in another database.
* The edge cases one by one: a client_msg_id repeated inside a batch or retried later, a notice,
  owner assignment, several messages of one conversation, a duplicate racing in from another
  node, messages of another type refused by the batch statement.
* Across nodes: two writers storing into the same conversations in opposite orders at once neither
  deadlock nor lose, duplicate or reorder anything.
"""
from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat_server.data import conversations
from chat_server.data.conversations import DuplicateMessage, NewMessage
from chat_server.writer import MessageWriter
from shared.db import create_pool
from tests.conftest import database

# The demo's kefu by shop (platform 0, Demo Shop 1, Second Shop 2) and some of its buyers.
KEFU_OF_SHOP = {0: [1], 1: [2, 3], 2: [4]}
BUYERS = [1, 2, 3, 4]
RELATION = ("shop_id, user_id, kefu_id, nickname, avatar, client, msg, msg_type, is_read, unread, last_seq,"
            " kefu_read_seq, user_read_seq")
RECORD = "shop_id, user_id, seq, from_id, from_type, to_id, to_type, msg, msg_type, is_read, type, client_msg_id"


def message(user_id: int, text: str, *, shop_id: int = 1, kefu_id: int | None = None, cmid: str | None = None,
            type: int = 1, nickname: str = "", client: int = 6) -> NewMessage:
    """A buyer's message to the shop, or, with `kefu_id`, that kefu's message to the buyer."""
    if kefu_id is None:
        return NewMessage(shop_id=shop_id, user_id=user_id, from_id=user_id, from_type="user", to_id=0,
                          to_type="kefu", msg=text, msg_type=1, type=type, client_msg_id=cmid,
                          nickname=nickname or f"u{user_id}", avatar=f"a{user_id}.png", client=client)
    return NewMessage(shop_id=shop_id, user_id=user_id, from_id=kefu_id, from_type="kefu", to_id=user_id,
                      to_type="user", msg=text, msg_type=1, type=type, client_msg_id=cmid,
                      nickname=nickname or f"k{kefu_id}", avatar=f"k{kefu_id}.png", client=5)


async def store_at_once(writer: MessageWriter, items: list[tuple[NewMessage, int]]) -> list:
    """Submit every message before the writer runs (one batch); each answer or exception."""
    return await asyncio.gather(*(writer.submit(m, owner) for m, owner in items), return_exceptions=True)


async def relation_rows(db) -> list[tuple]:
    return [tuple(r) for r in await db.fetch(f"SELECT {RELATION} FROM chat_relation ORDER BY shop_id, user_id")]


async def record_rows(db) -> list[tuple]:
    return [tuple(r) for r in await db.fetch(f"SELECT {RECORD} FROM chat_record ORDER BY shop_id, user_id, seq")]


def outcome(answer) -> tuple | str:
    """An answer without what differs between two databases (ids, times)."""
    if isinstance(answer, DuplicateMessage):
        return "duplicate"
    assert not isinstance(answer, BaseException), answer
    record, rel = answer
    return (tuple(v for k, v in sorted(record.items()) if k not in ("id", "create_time", "update_time")),
            rel["kefu_id"])


@pytest.fixture
async def writer(db_dsn):
    pool = await create_pool(db_dsn, min_size=1, max_size=4)
    writer = MessageWriter(pool, max_batch=256)
    writer.start()
    yield writer
    await writer.stop()
    await pool.close()


# ------------------------------------------------------------------------------- property

@dataclass(frozen=True)
class Send:
    shop_id: int
    user_id: int
    kefu: int | None      # index into the shop's kefu; None: the buyer sends
    owner: int | None     # index into the shop's kefu; None: owner_if_new 0
    cmid: str | None
    notice: bool
    text: str
    nickname: str

    def item(self) -> tuple[NewMessage, int]:
        kefu = KEFU_OF_SHOP[self.shop_id]
        kefu_id = None if self.kefu is None else kefu[self.kefu % len(kefu)]
        owner = 0 if self.owner is None else kefu[self.owner % len(kefu)]
        return message(self.user_id, self.text, shop_id=self.shop_id, kefu_id=kefu_id, cmid=self.cmid,
                       type=2 if self.notice else 1, nickname=self.nickname), owner


def sends(notices: bool) -> st.SearchStrategy[Send]:
    return st.builds(
        Send, shop_id=st.sampled_from(sorted(KEFU_OF_SHOP)), user_id=st.sampled_from(BUYERS),
        kefu=st.none() | st.integers(0, 1), owner=st.none() | st.integers(0, 1),
        cmid=st.none() | st.sampled_from(["c1", "c2", "c3"]),
        notice=st.booleans() if notices else st.just(False),
        text=st.sampled_from(["hi", "在吗", "<b>&amp;</b>"]), nickname=st.sampled_from(["", "Ann", "李"]))


# Before the batch: some conversations and client_msg_ids exist (stored one by one in both
# databases), some of them without an owner. Then the batch: mostly chat messages, sometimes a
# notice (the writer stores such a batch one message at a time).
histories = st.lists(sends(notices=True), max_size=6)
batches = st.lists(sends(notices=False), min_size=2, max_size=14) | st.lists(sends(notices=True), min_size=1,
                                                                             max_size=6)


async def test_a_batch_stores_what_the_single_message_statement_stores_one_by_one(writer, db_dsn, pg_server_dsn,
                                                                                 template_db):
    loop = asyncio.get_running_loop()
    with database(pg_server_dsn, f"kefu_t_{secrets.token_hex(5)}", template_db) as reference_dsn:
        batched, reference = await asyncpg.connect(db_dsn), await asyncpg.connect(reference_dsn)
        try:
            async def check(history: list[Send], batch: list[Send]) -> None:
                for db in (batched, reference):
                    await db.execute("TRUNCATE chat_record, chat_relation")
                    for send in history:
                        try:
                            await conversations.store_message(db, *send.item())
                        except DuplicateMessage:
                            pass
                items = [send.item() for send in batch]
                batches_before = writer.batches
                answers = await store_at_once(writer, items)
                if len(items) > 1 and not any(m.type != 1 for m, _ in items):
                    assert writer.batches == batches_before + 1    # the batch statement, no fallback
                expected = []
                for m, owner in items:
                    try:
                        expected.append(await conversations.store_message(reference, m, owner))
                    except DuplicateMessage as exc:
                        expected.append(exc)
                assert [outcome(a) for a in answers] == [outcome(e) for e in expected]
                assert await record_rows(batched) == await record_rows(reference)
                assert await relation_rows(batched) == await relation_rows(reference)
                for answer in answers:     # what the writer answered is what it stored
                    if not isinstance(answer, DuplicateMessage):
                        record, _ = answer
                        stored = await batched.fetchrow("SELECT seq, to_id, msg, create_time, update_time"
                                                        " FROM chat_record WHERE id = $1", record["id"])
                        assert tuple(stored) == (record["seq"], record["to_id"], record["msg"],
                                                 record["create_time"], record["update_time"])

            @settings(max_examples=120, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(histories, batches)
            def examples(history: list[Send], batch: list[Send]) -> None:
                asyncio.run_coroutine_threadsafe(check(history, batch), loop).result(60)

            await asyncio.to_thread(examples)
        finally:
            await batched.close()
            await reference.close()


# ------------------------------------------------------------------------------- edge cases

async def test_a_client_msg_id_repeated_in_one_batch_is_a_duplicate_of_the_first(writer, db):
    first, again, other, reply, reply_elsewhere = await store_at_once(writer, [
        (message(1, "one", cmid="x"), 2), (message(1, "one again", cmid="x"), 2), (message(2, "two", cmid="x"), 2),
        # a kefu's repeat in another conversation: the same sender and id, so a duplicate too
        (message(1, "reply", kefu_id=2, cmid="y"), 2), (message(3, "reply", kefu_id=2, cmid="y"), 2)])
    assert writer.batches == 1               # no retry one by one: the batch statement sorted it out
    assert first[0]["msg"] == "one" and first[0]["seq"] == 1
    assert isinstance(again, DuplicateMessage) and isinstance(reply_elsewhere, DuplicateMessage)
    assert other[0]["from_id"] == 2          # another sender's "x" is another message
    assert reply[0]["seq"] == 2
    assert [tuple(r) for r in await db.fetch("SELECT user_id, seq, msg FROM chat_record ORDER BY id")] == [
        (1, 1, "one"), (2, 1, "two"), (1, 2, "reply")]
    rel = await conversations.relation(db, 1, 1)
    assert (rel["last_seq"], rel["unread"], rel["msg"]) == (2, 0, "reply")
    assert not await conversations.conversation_exists(db, 1, 3)


async def test_a_retried_client_msg_id_is_a_duplicate_and_changes_nothing(writer, db):
    await writer.store(message(1, "hello", cmid="r"), 2)
    before = await relation_rows(db)
    retried, fresh = await store_at_once(writer, [(message(1, "hello", cmid="r"), 3), (message(3, "hi"), 2)])
    assert isinstance(retried, DuplicateMessage)
    assert fresh[0]["seq"] == 1
    assert [r for r in await relation_rows(db) if r[1] == 1] == [r for r in before if r[1] == 1]
    assert await db.fetchval("SELECT count(*) FROM chat_record WHERE client_msg_id = 'r'") == 1


async def test_messages_of_one_conversation_get_contiguous_seqs_in_queue_order(writer, db):
    order = []
    futures = [writer.submit(m, 2) for m in (message(1, "a"), message(1, "b", kefu_id=2), message(2, "c"),
                                             message(1, "d"), message(1, "e"))]
    for i, future in enumerate(futures):
        future.add_done_callback(lambda _, i=i: order.append(i))
    answers = await asyncio.gather(*futures)
    assert writer.batches == 1
    assert [(r["user_id"], r["seq"], r["msg"]) for r, _ in answers] == [
        (1, 1, "a"), (1, 2, "b"), (2, 1, "c"), (1, 3, "d"), (1, 4, "e")]
    assert order == [0, 1, 2, 3, 4]          # answered in the order they were queued
    rel = await conversations.relation(db, 1, 1)
    # the kefu's reply read everything before it; the buyer's two later messages are unread
    assert (rel["last_seq"], rel["kefu_read_seq"], rel["unread"], rel["is_read"], rel["msg"]) == (4, 2, 2, 0, "e")


async def test_owner_is_given_only_to_a_conversation_without_one(writer, db):
    await writer.store(message(1, "old"), 3)                  # owned by kefu 3
    await writer.store(message(2, "orphan"), 0)               # no owner yet
    answers = await store_at_once(writer, [
        (message(1, "kept"), 2), (message(2, "still none"), 0), (message(2, "now owned"), 2),
        (message(2, "stays"), 3), (message(4, "new"), 2)])
    assert writer.batches == 1
    assert [(r["to_id"], rel["kefu_id"]) for r, rel in answers] == [(3, 3), (0, 0), (2, 2), (2, 2), (2, 2)]
    owners = {r["user_id"]: r["kefu_id"] for r in await db.fetch("SELECT user_id, kefu_id FROM chat_relation")}
    assert owners == {1: 3, 2: 2, 4: 2}


async def test_a_notice_in_a_batch_leaves_the_preview_and_the_unread_count(writer, db):
    await writer.store(message(1, "question"), 2)
    notice = message(1, "转接给客服B", kefu_id=2, type=2)
    stored_notice, after = await store_at_once(writer, [(notice, 2), (message(1, "again"), 2)])
    assert (stored_notice[0]["seq"], stored_notice[0]["type"], after[0]["seq"]) == (2, 2, 3)
    rel = await conversations.relation(db, 1, 1)
    assert (rel["msg"], rel["unread"], rel["is_read"], rel["kefu_read_seq"]) == ("again", 2, 0, 0)


async def test_the_batch_statement_stores_chat_messages_only(writer):
    with pytest.raises(ValueError, match="type 1"):
        await conversations.store_messages(writer.pool, [(message(1, "a"), 2), (message(2, "n", type=2), 2)])


async def test_a_duplicate_racing_in_from_another_node_fails_alone(writer, db_dsn, db):
    other_node = await asyncpg.connect(db_dsn)
    try:
        # another node stores "race" for buyer 1 and has not committed yet
        tx = other_node.transaction()
        await tx.start()
        await conversations.store_message(other_node, message(1, "theirs", cmid="race"), 3)
        batch = asyncio.ensure_future(store_at_once(writer, [
            (message(1, "ours", cmid="race"), 2), (message(2, "unrelated"), 2)]))
        # the batch waits on the other node's row, then finds it committed
        await asyncio.sleep(0.3)
        assert not batch.done()
        await tx.commit()
        raced, unrelated = await batch
    finally:
        await other_node.close()
    assert isinstance(raced, DuplicateMessage)
    assert unrelated[0]["msg"] == "unrelated" and unrelated[0]["seq"] == 1
    assert writer.batches == 0                       # retried one message per statement
    assert [tuple(r) for r in await db.fetch("SELECT user_id, seq, msg FROM chat_record ORDER BY id")] == [
        (1, 1, "theirs"), (2, 1, "unrelated")]


# ------------------------------------------------------------------------------- several nodes

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
                results += await asyncio.gather(*(writer.store(message(u, f"{tag}{round_no}-{u}",
                                                                       cmid=f"{tag}{round_no}-{u}"), 2)
                                                  for u in order))
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
