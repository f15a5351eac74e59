"""The stress run's invariant checks catch what they are meant to: each is fed a database (and
client views) broken in one known way, and must name it; a consistent one passes."""
import random

from shared.chat_client import Tracker
from tests.stress import invariants
from tests.stress.actors import Actor


def actor(name: str, role: str, principal_id: int, shop_id: int = 1) -> Actor:
    return Actor(name, role, principal_id, shop_id, token="0" * 32, client_type=6 if role == "user" else 5,
                 plan=None, rng=random.Random(0), peers=[2, 3], tracker=Tracker())


async def add_record(db, shop_id, user_id, seq, from_type, from_id, cmid, type_=1) -> dict:
    row = await db.fetchrow(
        "INSERT INTO chat_record (shop_id, user_id, seq, from_id, from_type, to_id, to_type, msg, msg_type, type,"
        " client_msg_id) VALUES ($1, $2, $3, $4, $5, 0, $6, $7, 1, $8, $9)"
        " RETURNING id, seq, shop_id, user_id, msg, from_type", shop_id, user_id, seq, from_id, from_type,
        "kefu" if from_type == "user" else "user", f"m{seq}", type_, cmid)
    return {**dict(row), "client_msg_id": cmid, "to_id": 0, "to_type": "kefu", "msg_type": 1}


async def test_consistent_run_passes_and_each_breakage_is_named(db):
    await db.execute("INSERT INTO chat_relation (shop_id, user_id, kefu_id, last_seq) VALUES (1, 7, 2, 3)")
    buyer, kefu = actor("u7", "user", 7), actor("kefu2", "kefu", 2)
    records = [await add_record(db, 1, 7, 1, "user", 7, "a"), await add_record(db, 1, 7, 2, "kefu", 2, "b"),
               await add_record(db, 1, 7, 3, "kefu", 3, None, type_=2)]
    for a in (buyer, kefu):
        for rec in records:
            a.tracker.observe(rec)
    buyer.tracker.sent.add("a")
    buyer.tracker.acked["a"] = records[0]
    kefu.tracker.sent.add("b")
    kefu.tracker.acked["b"] = records[1]
    truth = await invariants.conversations_in_db(db)
    assert await invariants.check_sequences(db) == []
    assert (await invariants.check_stored_once(db, [buyer, kefu]))[0] == []
    assert invariants.check_views([buyer, kefu], truth) == []

    # a hole in the sequence, a message nobody sent, an echoed message that is not stored, a plain
    # record without client_msg_id, and a client that missed a record
    await db.execute("UPDATE chat_relation SET last_seq = 5 WHERE shop_id = 1 AND user_id = 7")
    await add_record(db, 1, 7, 5, "user", 7, "phantom")
    await add_record(db, 2, 7, 1, "user", 7, None)
    buyer.tracker.sent.add("lost")
    buyer.tracker.acked["lost"] = {**records[0], "id": 999999}
    kefu.tracker.conversations[(1, 7)].by_seq.pop(2)
    kefu.tracker.conversations[(1, 7)].duplicates = 1

    sequences = await invariants.check_sequences(db)
    assert any("1:7: 4 records" in w and "last_seq 5" in w for w in sequences), sequences
    assert any("belong to no conversation" in w for w in sequences), sequences
    stored, stats = await invariants.check_stored_once(db, [buyer, kefu])
    assert any("stored messages nobody sent" in w for w in stored), stored
    assert any("lost" in w and "stored 0 times" in w for w in stored), stored
    assert any("no client_msg_id and is not a notice" in w for w in stored), stored
    views = invariants.check_views([buyer, kefu], await invariants.conversations_in_db(db))
    assert any(w.startswith("u7 view of 1:7: missing seqs [5]") for w in views), views
    assert any(w.startswith("kefu2 view of 1:7: missing seqs [2, 5]") for w in views), views
    assert any("1 live duplicates" in w for w in views), views
