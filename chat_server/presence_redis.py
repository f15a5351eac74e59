"""Presence for many nodes, in Redis.

Each node keeps its own counts in memory (the truth about its own sockets) and mirrors them into
four Redis hashes of its own, which expire unless the node's heartbeat renews them:

    kefu:p:<node>:u      "<shop>:<user>" → this node's connections of that buyer for that shop
    kefu:p:<node>:k      "<kefu>"        → "<shop>:<connections>"
    kefu:p:<node>:owner  "<shop>:<user>" → owning kefu of an online buyer on this node
    kefu:p:<node>:load   "<kefu>"        → how many of this node's online buyers the kefu owns
    kefu:p:nodes         zset node → last heartbeat (unix seconds)

A node that dies stops renewing: its hashes expire after `ttl` seconds and it drops out of the
live-node set, so its users and kefu stop counting as online within `ttl`. Queries read every
live node's hashes in one pipeline. While Redis is unreachable a node answers from its own
memory (it still serves its own sockets) and rewrites its hashes when Redis returns.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import redis.asyncio as redis
from redis.exceptions import RedisError

from chat_server.connection import Principal
from chat_server.tasks import cancel

log = logging.getLogger("kefu.chat.presence")

PREFIX = "kefu:p:"
NODES = PREFIX + "nodes"


def _user_field(shop_id: int, user_id: int) -> str:
    return f"{shop_id}:{user_id}"


class RedisPresence:
    def __init__(self, url: str, node_id: str, ttl: int = 15):
        self.url, self.node_id, self.ttl = url, node_id, ttl
        self._client: redis.Redis | None = None
        self._task: asyncio.Task | None = None
        # this node's truth
        self._users: Counter[tuple[int, int]] = Counter()
        self._kefu: Counter[int] = Counter()
        self._kefu_shop: dict[int, int] = {}
        self._owner: dict[tuple[int, int], int] = {}
        self._load: Counter[int] = Counter()
        self._synced = False          # Redis mirrors our memory (false after an outage)
        self._version = 0             # bumped by every change to the memory above
        self._live: tuple[float, list[str]] = (0.0, [])

    def _key(self, node: str, kind: str) -> str:
        return f"{PREFIX}{node}:{kind}"

    # ------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2,
                                            decode_responses=True)
        await self._heartbeat_once()
        self._task = asyncio.get_running_loop().create_task(self._heartbeat_forever())

    async def close(self) -> None:
        await cancel(self._task)
        if self._client is not None:
            try:   # leave at once rather than after the TTL
                pipe = self._client.pipeline(transaction=False)
                pipe.zrem(NODES, self.node_id)
                pipe.delete(*(self._key(self.node_id, k) for k in ("u", "k", "owner", "load")))
                await pipe.execute()
            except RedisError:
                pass
            await self._client.aclose()

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(max(self.ttl / 3, 0.5))
            await self._heartbeat_once()

    async def _heartbeat_once(self) -> None:
        try:
            for _ in range(3):
                if self._synced:
                    break
                # Changes made while the rewrite is in flight are not mirrored (not synced yet):
                # rewrite again until a whole rewrite saw no change.
                version = self._version
                await self._rewrite()
                self._synced = version == self._version
            now = time.time()
            pipe = self._client.pipeline(transaction=False)
            pipe.zadd(NODES, {self.node_id: now})
            pipe.zremrangebyscore(NODES, "-inf", now - 2 * self.ttl)
            for kind in ("u", "k", "owner", "load"):
                pipe.expire(self._key(self.node_id, kind), self.ttl)
            await pipe.execute()
        except RedisError as exc:
            if self._synced:
                log.warning("presence heartbeat failed (%s); answering from this node's memory", exc)
            self._synced = False

    async def _rewrite(self) -> None:
        """Replace this node's hashes with its memory (after start or an outage)."""
        node = self.node_id
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(*(self._key(node, k) for k in ("u", "k", "owner", "load")))
        if self._users:
            pipe.hset(self._key(node, "u"), mapping={_user_field(*k): n for k, n in self._users.items()})
        if self._kefu:
            pipe.hset(self._key(node, "k"), mapping={str(k): f"{self._kefu_shop[k]}:{n}" for k, n in self._kefu.items()})
        if self._owner:
            pipe.hset(self._key(node, "owner"), mapping={_user_field(*k): v for k, v in self._owner.items()})
        loads = {str(k): n for k, n in self._load.items() if n > 0}
        if loads:
            pipe.hset(self._key(node, "load"), mapping=loads)
        await pipe.execute()

    async def _mirror(self, *commands: tuple) -> None:
        """Apply changes to this node's hashes; on failure, mark for a full rewrite later."""
        self._version += 1
        if not self._synced:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for name, *args in commands:
                getattr(pipe, name)(*args)
            await pipe.execute()
        except RedisError as exc:
            log.warning("presence update failed (%s); will rewrite when Redis returns", exc)
            self._synced = False

    async def _other_live_nodes(self) -> list[str]:
        cached_at, nodes = self._live
        now = time.time()
        if now - cached_at > 1.0:
            nodes = [n for n in await self._client.zrangebyscore(NODES, now - self.ttl, "+inf") if n != self.node_id]
            self._live = (now, nodes)
        return nodes

    # ------------------------------------------------------------------------------- changes

    async def connect(self, principal: Principal) -> bool:
        if principal.role == "user":
            key = (principal.shop_id, principal.id)
            self._users[key] += 1
            await self._mirror(("hincrby", self._key(self.node_id, "u"), _user_field(*key), 1))
            return self._users[key] == 1 and not await self._elsewhere("u", _user_field(*key))
        self._kefu[principal.id] += 1
        self._kefu_shop[principal.id] = principal.shop_id
        await self._mirror(("hset", self._key(self.node_id, "k"), str(principal.id),
                            f"{principal.shop_id}:{self._kefu[principal.id]}"))
        return self._kefu[principal.id] == 1 and not await self._elsewhere("k", str(principal.id))

    async def disconnect(self, principal: Principal) -> tuple[bool, int | None]:
        node = self.node_id
        if principal.role == "user":
            key = (principal.shop_id, principal.id)
            field = _user_field(*key)
            self._users[key] -= 1
            if self._users[key] > 0:
                await self._mirror(("hincrby", self._key(node, "u"), field, -1))
                return False, None
            del self._users[key]
            owner = remembered = self._owner.pop(key, None)
            if remembered is not None:
                self._load[remembered] -= 1
            if self._synced:
                # A transfer handled on another node moves the owner in this node's hash, not in
                # its memory: the hash is the truth while Redis is up.
                try:
                    current = await self._client.hget(self._key(node, "owner"), field)
                    owner = int(current) if current is not None else remembered
                except RedisError:
                    pass
            commands: list[tuple] = [("hdel", self._key(node, "u"), field), ("hdel", self._key(node, "owner"), field)]
            if owner is not None:
                commands.append(("hincrby", self._key(node, "load"), str(owner), -1))
            await self._mirror(*commands)
            return not await self._elsewhere("u", field), owner
        self._kefu[principal.id] -= 1
        if self._kefu[principal.id] > 0:
            await self._mirror(("hset", self._key(node, "k"), str(principal.id),
                                f"{principal.shop_id}:{self._kefu[principal.id]}"))
            return False, None
        del self._kefu[principal.id]
        self._kefu_shop.pop(principal.id, None)
        await self._mirror(("hdel", self._key(node, "k"), str(principal.id)))
        return not await self._elsewhere("k", str(principal.id)), None

    async def set_owner(self, shop_id: int, user_id: int, kefu_id: int) -> None:
        key, field = (shop_id, user_id), _user_field(shop_id, user_id)
        if key in self._users:
            old = self._owner.get(key)
            if old != kefu_id:
                commands: list[tuple] = [("hset", self._key(self.node_id, "owner"), field, kefu_id),
                                         ("hincrby", self._key(self.node_id, "load"), str(kefu_id), 1)]
                if old is not None:
                    self._load[old] -= 1
                    commands.append(("hincrby", self._key(self.node_id, "load"), str(old), -1))
                self._owner[key] = kefu_id
                self._load[kefu_id] += 1
                await self._mirror(*commands)
        # The buyer may also be (only) on other nodes (a transfer is handled on the kefu's node):
        # move the owner and load in their hashes too.
        try:
            for node in await self._other_live_nodes():
                old = await self._client.hget(self._key(node, "owner"), field)
                if old is None and not await self._client.hexists(self._key(node, "u"), field):
                    continue
                if old is not None and int(old) == kefu_id:
                    continue
                pipe = self._client.pipeline(transaction=False)
                pipe.hset(self._key(node, "owner"), field, kefu_id)
                pipe.hincrby(self._key(node, "load"), str(kefu_id), 1)
                if old is not None:
                    pipe.hincrby(self._key(node, "load"), old, -1)
                await pipe.execute()
        except RedisError as exc:
            log.warning("could not move ownership on other nodes: %s", exc)

    # ------------------------------------------------------------------------------- queries

    async def _elsewhere(self, kind: str, field: str) -> bool:
        """Does any other live node hold `field` in its `kind` hash?"""
        try:
            nodes = await self._other_live_nodes()
            if not nodes:
                return False
            pipe = self._client.pipeline(transaction=False)
            for node in nodes:
                pipe.hexists(self._key(node, kind), field)
            return any(await pipe.execute())
        except RedisError:
            return False

    async def online_kefu(self, shop_id: int) -> dict[int, int]:
        """Online kefu of the shop with their loads, over every live node. Loads are read from
        Redis for this node too (transfers handled elsewhere move them there); from memory only
        while Redis is unreachable."""
        loads = {k: 0 if self._synced else self._load[k] for k, s in self._kefu_shop.items() if s == shop_id}
        try:
            nodes = await self._other_live_nodes() + ([self.node_id] if self._synced else [])
            if nodes:
                pipe = self._client.pipeline(transaction=False)
                for node in nodes:
                    pipe.hgetall(self._key(node, "k"))
                    pipe.hgetall(self._key(node, "load"))
                answers = await pipe.execute()
                remote_load: Counter[int] = Counter()
                for kefu_map, load_map in zip(answers[::2], answers[1::2]):
                    for kefu, value in kefu_map.items():
                        if int(value.split(":")[0]) == shop_id:
                            loads.setdefault(int(kefu), 0)
                    for kefu, n in load_map.items():
                        remote_load[int(kefu)] += int(n)
                for kefu in loads:
                    loads[kefu] += remote_load.get(kefu, 0)
        except RedisError:
            pass
        return loads

    async def is_kefu_online(self, kefu_id: int) -> bool:
        return kefu_id in self._kefu or await self._elsewhere("k", str(kefu_id))

    async def users_online(self, shop_id: int, user_ids: list[int]) -> set[int]:
        online = {u for u in user_ids if (shop_id, u) in self._users}
        rest = [u for u in user_ids if u not in online]
        if not rest:
            return online
        try:
            nodes = await self._other_live_nodes()
            if nodes:
                fields = [_user_field(shop_id, u) for u in rest]
                pipe = self._client.pipeline(transaction=False)
                for node in nodes:
                    pipe.hmget(self._key(node, "u"), fields)
                for counts in await pipe.execute():
                    online.update(u for u, n in zip(rest, counts) if n is not None and int(n) > 0)
        except RedisError:
            pass
        return online
