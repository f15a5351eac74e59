"""Nothing lost, nothing duplicated (spec §4): idempotent sends, gap-free seq under concurrency with
group commit on and off, and a sync replay that live frames never overtake or duplicate."""
import asyncio

import pytest

from chat_server.keys import CHAT
from tests.chat_server.test_events import start_conversation


async def test_retry_with_same_client_msg_id_stores_and_delivers_once(live):
    kefu, user = await start_conversation(live)
    data = {"msg": "一次", "msg_type": 1, "to_id": 2, "to_type": "kefu", "client_msg_id": "c-1"}
    await user.send("chat", data)
    first = await user.expect("chat")
    assert first["client_msg_id"] == "c-1"
    assert (await kefu.expect("chat"))["id"] == first["id"]
    await user.send("chat", data)                       # the retry
    again = await user.expect("chat")
    assert again["id"] == first["id"] and again["seq"] == first["seq"] and again["client_msg_id"] == "c-1"
    await kefu.nothing()
    # the same id sent twice at once
    burst = {**data, "client_msg_id": "c-2", "msg": "两次"}
    await user.send("chat", burst)
    await user.send("chat", burst)
    echoes = [await user.expect("chat"), await user.expect("chat")]
    assert echoes[0]["id"] == echoes[1]["id"]
    assert (await kefu.expect("chat"))["client_msg_id"] == "c-2"
    await kefu.nothing()
    rows = await live.db.fetch("SELECT client_msg_id, seq FROM chat_record WHERE user_id = 7 ORDER BY seq")
    assert [(r["client_msg_id"], r["seq"]) for r in rows] == [("c-1", 1), ("c-2", 2)]
    # another sender may use the same client_msg_id
    await kefu.send("chat", {"msg": "x", "msg_type": 1, "to_id": 7, "to_type": "user", "client_msg_id": "c-1"})
    assert (await kefu.expect("chat"))["seq"] == 3


@pytest.mark.parametrize("group_commit", ["1", "0"])
async def test_concurrent_senders_get_gap_free_seq(node, group_commit):
    live = await node(GROUP_COMMIT=group_commit, DB_POOL_MAX="8")
    app, db = live.app, live.db
    kefu = await live.kefu(2)
    buyers = []
    for user_id in range(1, 9):
        sock = await live.user(user_id, shop_id=1)
        await sock.send("user_online", {"kefu_id": 2})
        await kefu.expect("user_online")
        buyers.append(sock)
    per_buyer = 15

    async def talk(sock, user_id):
        for i in range(per_buyer):
            await sock.send("chat", {"msg": f"{user_id}-{i}", "msg_type": 1, "to_id": 2, "to_type": "kefu",
                                     "client_msg_id": f"{user_id}-{i}"})
        return [await sock.expect("chat") for _ in range(per_buyer)]

    echoes = await asyncio.gather(*(talk(s, u) for u, s in zip(range(1, 9), buyers)))
    for user_id, mine in zip(range(1, 9), echoes):
        assert [e["seq"] for e in mine] == list(range(1, per_buyer + 1))          # in order, no gap
        assert [e["msg"] for e in mine] == [f"{user_id}-{i}" for i in range(per_buyer)]
    got = [await kefu.expect("chat") for _ in range(8 * per_buyer)]
    assert len({g["id"] for g in got}) == 8 * per_buyer
    for user_id in range(1, 9):                          # the kefu sees each conversation in seq order
        seqs = [g["seq"] for g in got if g["user_id"] == user_id]
        assert seqs == list(range(1, per_buyer + 1))
    assert await db.fetchval("SELECT count(*) FROM chat_record") == 8 * per_buyer
    writer = app[CHAT].writer
    if group_commit == "1":
        assert 0 < writer.batches < writer.messages == 8 * per_buyer       # batched
    else:
        assert writer.batches == 0


SYNCS = 20


async def test_sync_during_live_traffic_never_reorders_or_duplicates(node):
    live = await node(CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="0")
    kefu, user = await start_conversation(live)
    total = 100

    async def kefu_talks():
        for i in range(0, total, 5):      # bursts of 5, under the flood limit
            for j in range(i, i + 5):
                await kefu.send("chat", {"msg": f"k{j}", "msg_type": 1, "to_id": 7, "to_type": "user"})
            for _ in range(5):
                await kefu.expect("chat")

    async def user_syncs():
        for _ in range(SYNCS):
            await user.send("sync", {"shop_id": 1, "after_seq": 0})
            await asyncio.sleep(0.005)

    await asyncio.gather(kefu_talks(), user_syncs())
    # Read everything the user got: chat frames of the conversation must never go backwards
    # except right after a `sync` answer restarts the replay from seq 1.
    seen, last, syncs = set(), 0, 0
    while len(seen) < total or syncs < SYNCS:
        frame = await user.receive()
        if frame["event"] == "sync":
            syncs += 1
            assert frame["data"]["recovered"] is True
            continue
        if frame["event"] != "chat":
            continue
        seq = frame["data"]["seq"]
        if seq <= last:            # a replay starting over: it must start at 1 and run contiguously
            assert seq == 1, f"frame {seq} after {last}"
        else:
            assert seq == last + 1, f"gap: {seq} after {last}"
        last = seq
        seen.add(seq)
    assert seen == set(range(1, total + 1))


async def test_a_connection_pipelines_its_messages_in_order_through_shared_commits(node):
    live = await node(CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="0")
    kefu, user = await start_conversation(live)
    writer = live.app[CHAT].writer
    batches_before = writer.batches
    n = 30                                   # a burst within the inbox bound, sent without waiting
    for i in range(n):
        await kefu.send("chat", {"msg": f"m{i}", "msg_type": 1, "to_id": 7, "to_type": "user",
                                 "client_msg_id": f"k-{i}"})
    echoes = [await kefu.expect("chat") for _ in range(n)]
    delivered = [await user.expect("chat") for _ in range(n)]
    assert [e["msg"] for e in echoes] == [d["msg"] for d in delivered] == [f"m{i}" for i in range(n)]
    assert [e["seq"] for e in echoes] == list(range(1, n + 1))
    # Not one commit per message: the connection's messages waited for their commits together.
    assert writer.batches - batches_before < n // 2
    assert kefu.ws.close_code is None


@pytest.mark.parametrize("group_commit", ["1", "0"])
async def test_an_event_after_messages_waits_until_they_are_stored(node, group_commit):
    live = await node(GROUP_COMMIT=group_commit, CHAT_RATE_PER_CONNECTION="0", CHAT_RATE_PER_PRINCIPAL="0")
    kefu, user = await start_conversation(live)
    for i in range(10):
        await user.send("chat", {"msg": f"m{i}", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    await user.send("sync", {"shop_id": 1, "after_seq": 0})
    frames = []
    while (frame := await user.receive())["event"] != "sync":
        frames.append(frame)
    # The sync ran after all ten were stored and published: it saw them all.
    assert frame["data"] == {"shop_id": 1, "user_id": 7, "last_seq": 10, "recovered": True}
    # Live first (each published on its commit), then the replay that was asked for.
    assert [f["data"]["seq"] for f in frames if f["event"] == "chat"] == list(range(1, 11)) * 2
