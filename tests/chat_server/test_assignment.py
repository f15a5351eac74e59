"""Assignment (spec §6): sticky while online and under capacity, else least-loaded online, and an
owner even when nobody is online. Shop 1 has kefu 2 and 3."""
import asyncio

from chat_server.assignment import choose_owner
from chat_server.keys import PRESENCE
from shared.service import POOL


async def owner_of(live, user_id: int) -> int:
    return await live.db.fetchval("SELECT kefu_id FROM chat_relation WHERE shop_id = 1 AND user_id = $1", user_id)


async def visit(live, user_id: int, hint: int = 2):
    sock = await live.user(user_id, shop_id=1)
    await sock.send("user_online", {"kefu_id": hint})
    return sock


async def test_least_loaded_online_kefu_wins_over_the_hint(live):
    kefu2, kefu3 = await live.kefu(2), await live.kefu(3)
    await visit(live, 1, hint=3)
    await kefu3.expect("user_online")                       # 2 and 3 tie at 0: the hint breaks the tie
    await visit(live, 2, hint=3)
    await kefu2.expect("user_online")                       # now 2 is the less loaded: the hint loses
    await visit(live, 3)
    assert (await kefu2.expect("user_online"))["user_id"] == 3   # tie again, hint 2
    await kefu3.nothing()
    assert [await owner_of(live, u) for u in (1, 2, 3)] == [3, 2, 2]


async def test_sticky_to_last_kefu_while_online(live):
    kefu2, kefu3 = await live.kefu(2), await live.kefu(3)
    first = await visit(live, 1)
    await kefu2.expect("user_online")
    await first.close()
    await kefu2.expect("user_online")                       # offline
    await visit(live, 4)                                    # make kefu 2 the busier one
    await kefu2.expect("user_online")
    await visit(live, 5)
    await kefu3.expect("user_online")
    await visit(live, 6, hint=2)
    await kefu2.expect("user_online")                       # 2: 2 online buyers, 3: 1
    await visit(live, 1, hint=3)
    assert (await kefu2.expect("user_online"))["user_id"] == 1   # sticky beats least-loaded
    await kefu3.nothing()


async def test_capacity_cap_moves_new_visits_elsewhere(live):
    pool, presence = live.app[POOL], live.app[PRESENCE]
    await live.kefu(2)
    await live.kefu(3)
    await presence.set_owner(1, 1, 2)                       # no effect: user 1 is not online
    assert await presence.online_kefu(1) == {2: 0, 3: 0}
    await visit(live, 1)
    for _ in range(400):                                    # until the visit is counted (generous)
        if (await presence.online_kefu(1))[2] == 1:
            break
        await asyncio.sleep(0.05)
    assert await choose_owner(pool, presence, 1, current=2, hint=None, capacity=1) == 3   # 2 is full
    assert await choose_owner(pool, presence, 1, current=2, hint=None, capacity=2) == 2


async def test_owner_even_when_nobody_is_online(live):
    pool, presence = live.app[POOL], live.app[PRESENCE]
    assert await choose_owner(pool, presence, 1, current=3, hint=2, capacity=50) == 3    # the last owner
    assert await choose_owner(pool, presence, 1, current=None, hint=3, capacity=50) == 3  # the hint, if of the shop
    assert await choose_owner(pool, presence, 1, current=None, hint=4, capacity=50) == 2  # kefu 4 is shop 2's
    await live.db.execute("UPDATE kefu SET disable = 1 WHERE id = 2")
    assert await choose_owner(pool, presence, 1, current=2, hint=None, capacity=50) == 3  # 2 is no longer usable
    await live.db.execute("UPDATE kefu SET disable = 1 WHERE id = 3")
    assert await choose_owner(pool, presence, 1, current=2, hint=None, capacity=50) is None


async def test_offline_shop_still_gets_the_message_owned(live):
    buyer = await live.user(6, shop_id=2)
    await buyer.send("chat", {"msg": "留言", "msg_type": 1, "to_id": 4, "to_type": "kefu"})
    echo = await buyer.expect("chat")
    assert echo["to_id"] == 4
    assert await live.db.fetchval("SELECT kefu_id FROM chat_relation WHERE shop_id = 2 AND user_id = 6") == 4
