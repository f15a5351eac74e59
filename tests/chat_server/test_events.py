"""Events beyond the basic send: transfer, read, offline messages, presence, sync, typing, revocation."""
import asyncio


async def start_conversation(live, user_id=7, shop_id=1, kefu_id=2):
    kefu = await live.kefu(kefu_id)
    user = await live.user(user_id, shop_id=shop_id)
    await user.send("user_online", {"kefu_id": kefu_id})
    await kefu.expect("user_online")
    return kefu, user


async def test_transfer_all_three_results(live):
    kefu_a, user = await start_conversation(live)
    kefu_b = await live.kefu(3)
    await kefu_a.send("transfer", {"user_id": 7, "kefu_id": 3})
    notice = await user.expect("chat")
    assert notice["type"] == 2 and notice["msg_type"] == 1 and notice["msg"] == "客服(Demo客服B)为您服务"
    assert notice["from_id"] == 3 and notice["from_type"] == "kefu" and notice["to_id"] == 7
    to_user = await user.expect("transfer")
    assert to_user == {"id": 3, "nickname": "Demo客服B", "avater": "uploads/demo/kefu_3.png",
                       "avatar": "uploads/demo/kefu_3.png"}
    assert await kefu_a.expect("transfer") == {"status": "send_success"}
    got = await kefu_b.expect("transfer")
    assert got["status"] == "get_success" and got["user"]["user_id"] == 7 and got["user"]["kefu_id"] == 3
    assert got["user"]["online"] == 1
    assert await live.db.fetchval("SELECT kefu_id FROM chat_relation WHERE shop_id = 1 AND user_id = 7") == 3

    # the buyer's next message goes to the new owner only
    await user.send("chat", {"msg": "还在吗", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    assert (await kefu_b.expect("chat"))["to_id"] == 3
    await kefu_a.nothing()


async def test_transfer_refusals(live):
    kefu_a, user = await start_conversation(live)
    other_shop = await live.kefu(4)
    await kefu_a.send("transfer", {"user_id": 7, "kefu_id": 4})       # another shop's kefu
    assert (await kefu_a.expect("error"))["msg"] == "转接失败"
    await kefu_a.send("transfer", {"user_id": 7, "kefu_id": 3})       # same shop, offline
    assert (await kefu_a.expect("error"))["msg"] == "该客服不在线"
    kefu_b = await live.kefu(3)
    await kefu_b.send("transfer", {"user_id": 7, "kefu_id": 2})       # not the owner
    assert (await kefu_b.expect("error"))["msg"] == "转接失败"
    await other_shop.nothing()
    assert await live.db.fetchval("SELECT kefu_id FROM chat_relation WHERE shop_id = 1 AND user_id = 7") == 2


async def test_read_marks_conversation_and_sends_receipt(live):
    kefu, user = await start_conversation(live)
    for text in ("一", "二"):
        await user.send("chat", {"msg": text, "msg_type": 1, "to_id": 2, "to_type": "kefu"})
        await user.expect("chat")
        await kefu.expect("chat")
    rel = await live.db.fetchrow("SELECT is_read, unread FROM chat_relation WHERE shop_id = 1 AND user_id = 7")
    assert (rel["is_read"], rel["unread"]) == (0, 2)
    await kefu.send("read", {"user_id": 7, "shop_id": 1})
    receipt = await user.expect("read")
    assert receipt == {"shop_id": 1, "user_id": 7, "reader_type": "kefu", "read_seq": 2}
    assert await kefu.expect("read") == receipt   # the agent's own tabs learn it too
    rel = await live.db.fetchrow("SELECT is_read, unread FROM chat_relation WHERE shop_id = 1 AND user_id = 7")
    assert (rel["is_read"], rel["unread"]) == (1, 0)
    assert await live.db.fetchval("SELECT count(*) FROM chat_record WHERE user_id = 7 AND is_read = 0") == 0

    # a kefu cannot clear another shop's flag
    await kefu.send("read", {"user_id": 7, "shop_id": 2})
    assert (await kefu.expect("error"))["msg"] == "无权操作其他店铺的会话"

    # the buyer's read receipt reaches the owner
    await user.send("read", {"shop_id": 1})
    assert await kefu.expect("read") == {"shop_id": 1, "user_id": 7, "reader_type": "user", "read_seq": 2}


async def test_offline_message_is_stored_and_shown_on_return(live):
    kefu, user = await start_conversation(live)
    await kefu.close()
    await user.send("chat", {"msg": "有人吗", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    echo = await user.expect("chat")
    assert echo["msg"] == "有人吗"
    kefu = await live.kefu(2)
    await kefu.send("sync", {"shop_id": 1, "user_id": 7, "after_seq": 0})
    replayed = await kefu.expect("chat")
    assert replayed["id"] == echo["id"] and replayed["seq"] == 1
    assert await kefu.expect("sync") == {"shop_id": 1, "user_id": 7, "last_seq": 1, "recovered": True}
    rel = await live.db.fetchrow("SELECT is_read, unread, kefu_id FROM chat_relation WHERE shop_id = 1 AND user_id = 7")
    assert (rel["is_read"], rel["unread"], rel["kefu_id"]) == (0, 1, 2)


async def test_user_offline_only_when_last_tab_closes(live):
    kefu, tab1 = await start_conversation(live)
    tab2 = await live.user(7, shop_id=1)
    await tab1.close()
    await kefu.nothing(0.5)
    await tab2.close()
    row = await kefu.expect("user_online")
    assert row["online"] == 0 and row["user_id"] == 7


async def test_echo_reaches_every_connection_of_sender_and_recipient(live):
    kefu1, user1 = await start_conversation(live)
    kefu2 = await live.kefu(2)
    user2 = await live.user(7, shop_id=1)
    await user1.send("chat", {"msg": "多端", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
    frames = [await s.expect("chat") for s in (user1, user2, kefu1, kefu2)]
    assert len({f["id"] for f in frames}) == 1


async def test_sync_replays_in_order_or_refuses_past_the_bound(settings_env, commerce_server, db, aiohttp_client):
    from chat_server.app import create_app
    from shared.settings import Settings
    from tests.chat_server.conftest import Chat
    settings = Settings.from_env({**settings_env, "SYNC_REPLAY_LIMIT": "3",
                                  "COMMERCE_URL": str(commerce_server.make_url("")).rstrip("/")})
    app = create_app(settings)
    live = Chat(client=await aiohttp_client(app), app=app, db=db, settings=settings)
    kefu, user = await start_conversation(live)
    for i in range(5):
        await user.send("chat", {"msg": f"m{i}", "msg_type": 1, "to_id": 2, "to_type": "kefu"})
        await user.expect("chat")
    await user.send("sync", {"shop_id": 1, "after_seq": 2})
    assert [(await user.expect("chat"))["seq"] for _ in range(3)] == [3, 4, 5]
    assert await user.expect("sync") == {"shop_id": 1, "user_id": 7, "last_seq": 5, "recovered": True}
    await user.send("sync", {"shop_id": 1, "after_seq": 1})        # 4 missing > bound 3
    assert await user.expect("sync") == {"shop_id": 1, "user_id": 7, "last_seq": 5, "recovered": False}
    for sock in live.sockets:
        await sock.close()


async def test_sync_refuses_a_replay_past_the_byte_bound(node):
    live = await node(SYNC_REPLAY_MAX_BYTES="8192")          # the record bound (500) is far away
    kefu, user = await start_conversation(live)
    for i in range(3):                                       # ~3 KB frames each
        await user.send("chat", {"msg": f"{i}" + "长" * 999, "msg_type": 1, "to_id": 2, "to_type": "kefu"})
        await user.expect("chat")
    await user.send("sync", {"shop_id": 1, "after_seq": 0})   # ~9 KB: refused whole, nothing replayed
    assert await user.expect("sync") == {"shop_id": 1, "user_id": 7, "last_seq": 3, "recovered": False}
    await user.send("sync", {"shop_id": 1, "after_seq": 1})   # ~6 KB: replayed
    assert [(await user.expect("chat"))["seq"] for _ in range(2)] == [2, 3]
    assert await user.expect("sync") == {"shop_id": 1, "user_id": 7, "last_seq": 3, "recovered": True}


async def test_typing_is_forwarded_rate_limited_and_not_stored(live):
    kefu, user = await start_conversation(live)
    await user.send("typing", {"to_id": 2, "to_type": "kefu"})
    assert await kefu.expect("typing") == {"shop_id": 1, "user_id": 7, "from_id": 7, "from_type": "user"}
    await user.send("typing", {"to_id": 2, "to_type": "kefu"})     # within 2 s: dropped
    await kefu.nothing(0.3)
    await kefu.send("typing", {"to_id": 7, "to_type": "user"})
    assert await user.expect("typing") == {"shop_id": 1, "user_id": 7, "from_id": 2, "from_type": "kefu"}
    assert await live.db.fetchval("SELECT count(*) FROM chat_record") == 0


async def test_a_kefus_typing_reaches_only_buyers_of_its_shops_conversations(live):
    kefu, user = await start_conversation(live)                  # kefu 2 (shop 1) and buyer 7
    stranger = await live.user(8, shop_id=1)                     # a buyer of shop 1, no conversation
    elsewhere = await live.user(9, shop_id=2)                    # a buyer talking to shop 2 only
    await elsewhere.send("user_online", {"kefu_id": 4})
    also_here = await live.user(9, shop_id=1)                    # ... who also has shop 1's page open
    for to_id in (8, 9, 999999):
        await kefu.send("typing", {"to_id": to_id, "to_type": "user"})
        assert (await kefu.expect("error"))["msg"] == "用户不存在"
    await kefu.send("typing", {"to_id": 7, "to_type": "user"})   # its own conversation: delivered
    assert (await user.expect("typing"))["from_id"] == 2
    for sock in (stranger, elsewhere, also_here):
        await sock.nothing()


async def test_revoked_kefu_is_disconnected_at_once(live):
    kefu, _user = await start_conversation(live)
    from chat_server.keys import REVOCATION
    await asyncio.wait_for(live.app[REVOCATION].listening.wait(), 5)
    await live.db.execute("SELECT pg_notify('kefu_revoked', '2')")
    code, frames = await kefu.closed()
    assert code == 4001
    assert frames[-1] == {"event": "error", "data": {"msg": "账号已退出登录或被禁用", "msg_type": 1}}


async def test_newer_login_replaces_older_sockets_4004(live):
    from chat_server.keys import REVOCATION
    await asyncio.wait_for(live.app[REVOCATION].listening.wait(), 5)
    old_kefu = await live.kefu(2)
    old_user = await live.user(7, shop_id=1)
    other_client = await live.user(7, shop_id=1, client=3)        # another device type: untouched
    await live.kefu_token(2, fresh=True)                          # a new login of the same kefu
    code, frames = await old_kefu.closed()
    assert code == 4004 and frames[-1]["data"]["msg"] == "账号已在别处登录"
    await live.user_token(7, fresh=True)                          # the buyer logs in again (client 6)
    new_user = await live.user(7, shop_id=1)
    code, _ = await old_user.closed()
    assert code == 4004
    await other_client.send("ping")
    assert (await other_client.expect("ping"))["client_time"] > 0
    await new_user.send("ping")
    assert (await new_user.expect("ping"))["client_time"] > 0


async def test_typing_follows_a_transfer(live):
    kefu_a, user = await start_conversation(live)
    kefu_b = await live.kefu(3)
    await kefu_a.send("transfer", {"user_id": 7, "kefu_id": 3})
    await kefu_b.expect("transfer")
    await user.send("typing", {"to_id": 2, "to_type": "kefu"})
    assert (await kefu_b.expect("typing"))["from_id"] == 7
    await kefu_a.expect("transfer")
    await kefu_a.nothing()
