"""shared.chat_client against a live chat server: the greeting, refusals, waited sends, retries,
error attribution, sync replays through the tracking, and the `resync` event."""
import asyncio

import pytest

from chat_server.app import ask_all_to_sync
from chat_server.keys import HUB
from shared.chat_client import ChatError, ConnectRefused, Tracker, connect


async def open_pair(live, user_id=7, shop_id=1, kefu_id=2):
    kefu = await connect(live.ws_base, await live.kefu_token(kefu_id), "kefu", 5, shop_id)
    user = await connect(live.ws_base, await live.user_token(user_id), "user", 6, shop_id)
    return kefu, user


async def test_refused_handshake_carries_code_and_message(live):
    with pytest.raises(ConnectRefused) as refused:
        await connect(live.ws_base, "0" * 32, "user", 6, 1)
    assert refused.value.code == 4001 and refused.value.message == "登录已失效，请重新登录"
    with pytest.raises(ConnectRefused) as refused:
        await connect(live.ws_base, await live.kefu_token(2), "kefu", 5, 2)    # kefu 2 is shop 1's
    assert refused.value.code == 4003 and refused.value.message == "客服不属于该店铺"


async def test_send_retry_error_and_tracking(live):
    kefu, user = await open_pair(live)
    try:
        seen_by_kefu = kefu.queue("user_online")
        await user.user_online(2)
        assert (await asyncio.wait_for(seen_by_kefu.get(), 5))["online"] == 1

        first = await user.send_chat(2, "kefu", "你好", client_msg_id="c-1")
        assert first["seq"] == 1 and first["client_msg_id"] == "c-1"
        again = await user.send_chat(2, "kefu", "你好", client_msg_id="c-1")    # a retry: the original back
        assert again["id"] == first["id"]
        reply = await kefu.send_chat(7, "user", "您好")
        assert reply["seq"] == 2 and len(reply["client_msg_id"]) == 32            # generated
        with pytest.raises(ChatError) as failed:
            await user.send_chat(2, "kefu", "   ")
        assert failed.value.message == "消息内容不能为空"
        # the error went to the right request: the next send still gets its own echo
        third = await user.send_chat(2, "kefu", "还在吗")
        assert third["seq"] == 3

        deadline = asyncio.get_running_loop().time() + 10
        while kefu.tracker.conversations[(1, 7)].last_seq < 3:   # the kefu's copy of the last message
            assert asyncio.get_running_loop().time() < deadline, "the kefu never got the last message"
            await asyncio.sleep(0.02)
        for client in (user, kefu):
            conv = client.tracker.conversations[(1, 7)]
            assert conv.last_seq == 3 and conv.missing() == []
            assert conv.duplicates == 0 and conv.conflicts == 0 and conv.gaps == 0
        assert set(user.tracker.acked) == {"c-1", third["client_msg_id"]}
        assert user.tracker.acked["c-1"]["id"] == first["id"]
        assert await live.db.fetchval("SELECT count(*) FROM chat_record WHERE shop_id = 1 AND user_id = 7") == 3
    finally:
        await kefu.close()
        await user.close()


async def test_refused_silent_event_fails_its_future_only(live):
    kefu, user = await open_pair(live)
    try:
        await user.user_online(2)
        refused = await kefu.send_event("transfer", {"user_id": 7, "kefu_id": 2})    # to itself
        reply = await kefu.send_chat(7, "user", "在的")          # answered after the refusal
        assert reply["seq"] == 1
        with pytest.raises(ChatError) as failed:
            await refused
        assert failed.value.message == "转接失败"
        handled = await kefu.send_event("read", {"user_id": 7, "shop_id": 1})     # the kefu's own receipt
        await kefu.send_chat(7, "user", "第二条")
        assert await asyncio.wait_for(handled, 5) is None      # done once a later answer arrived
    finally:
        await kefu.close()
        await user.close()


async def test_sync_replays_through_tracking_and_reconnect_keeps_it(live):
    kefu, user = await open_pair(live)
    await user.user_online(2)
    for n in range(3):
        await user.send_chat(2, "kefu", f"m{n}")
    await user.close()
    await kefu.send_chat(7, "user", "离线时的回复")          # the buyer is offline: seq 4
    tracker = user.tracker
    user = await connect(live.ws_base, await live.user_token(7), "user", 6, 1, tracker=tracker)
    try:
        assert await user.sync(1) == (True, 4)              # from the tracked last seq (3)
        conv = tracker.conversations[(1, 7)]
        assert conv.last_seq == 4 and conv.replayed == 1 and conv.duplicates == 0
        assert await user.sync(1, after_seq=0) == (True, 4)  # everything again: replays, not duplicates
        assert conv.replayed == 5 and conv.duplicates == 0 and conv.conflicts == 0
    finally:
        await user.close()
        await kefu.close()


async def test_resync_event_syncs_every_tracked_conversation(live):
    user = await connect(live.ws_base, await live.user_token(7), "user", 6, 1)
    await user.user_online(2)                    # nobody online: kefu 2 still owns it (offline messages)
    await user.send_chat(2, "kefu", "one")
    await user.send_chat(2, "kefu", "two")
    kefu = await connect(live.ws_base, await live.kefu_token(2), "kefu", 5, 1)
    try:
        conv = kefu.track(1, 7)                  # known but never received: as after a Redis outage
        answers = kefu.queue("sync")
        await ask_all_to_sync(live.app[HUB])     # what a node does when its Redis subscription returns
        assert (await asyncio.wait_for(answers.get(), 5))["last_seq"] == 2
        assert conv.last_seq == 2 and conv.replayed == 2 and conv.missing() == []
    finally:
        await kefu.close()
        await user.close()


async def test_tracker_counts_live_duplicates_and_conflicts():
    tracker = Tracker()
    record = {"id": 10, "seq": 1, "shop_id": 1, "user_id": 7}
    tracker.observe(record)
    tracker.observe(record)                                      # the same live frame twice
    tracker.observe({"id": 11, "seq": 1, "shop_id": 1, "user_id": 7})   # another record with seq 1
    tracker.observe({"id": 13, "seq": 3, "shop_id": 1, "user_id": 7})   # seq 2 skipped
    conv = tracker.conversations[(1, 7)]
    assert (conv.duplicates, conv.conflicts, conv.gaps, conv.last_seq, conv.missing()) == (1, 1, 1, 1, [2])
