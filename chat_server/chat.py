"""The chat service: what each client event does (spec §3, §4). Views decode and role-check frames,
then call one method here; a method either completes or raises `ChatError` with the message of
the `error` frame. Everything stored is stored before anyone is told about it.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from functools import partial

import asyncpg
import orjson

from chat_server import assignment, errors, wire
from chat_server.commerce import CommerceClient, CommerceError, CommerceUnavailable
from chat_server.connection import Connection, Principal, kefu_topic, user_topic
from chat_server.data import conversations, principals
from chat_server.data.conversations import NOTICE, DuplicateMessage, NewMessage
from chat_server.hub import Hub
from chat_server.tasks import Tasks
from chat_server.presence import Presence
from chat_server.writer import MessageWriter
from chat_server.protocol import (ChatData, ReadData, SyncData, TransferData, TypingData, UserOnlineData, frame,
                                  message_frame, to_int)
from shared.settings import Settings
from shared.uploads import is_own_upload

log = logging.getLogger("kefu.chat")

ChatError = errors.ChatError

# Relative upload paths as the upload endpoints return them; nothing else is an image message.
IMAGE_PATH_RE = re.compile(r"^uploads/[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*/[A-Za-z0-9_\-]+\.(jpg|png|gif|webp)$")
CLIENT_MSG_ID_MAX = 64
TYPING_INTERVAL = 2.0
TEXT, IMAGE, GOODS = 1, 2, 3


@dataclass
class ChatService:
    settings: Settings
    pool: asyncpg.Pool
    hub: Hub
    presence: Presence
    commerce: CommerceClient
    writer: MessageWriter
    tasks: Tasks

    @property
    def tz(self) -> str:
        return self.settings.time_zone

    # ------------------------------------------------------------------------------------- chat

    async def send(self, conn: Connection, data: ChatData) -> asyncio.Future:
        """Validate a chat message and hand it to the writer, without waiting for its commit: a
        connection's successive messages then share group commits instead of taking one commit
        round each. Returns a future that completes (never with an error) once the message is
        stored and published, or refused (the sender got an error frame). Callers keep a
        connection's events in order by calling this in order (validation may await; the writer
        is FIFO)."""
        me = conn.principal
        cmid = data.client_msg_id
        if cmid is not None and not (1 <= len(cmid) <= CLIENT_MSG_ID_MAX and "\x00" not in cmid):
            raise ChatError(errors.BAD_CLIENT_MSG_ID)
        if me.role == "user":
            if data.to_type != "kefu":
                raise ChatError(errors.BAD_RECIPIENT)
            shop_id, user_id = me.shop_id, me.id
            owner = await self._owner_for_user_message(conn, to_int(data.to_id))
        else:
            if data.to_type != "user":
                raise ChatError(errors.BAD_RECIPIENT)
            shop_id, user_id = me.shop_id, to_int(data.to_id)
            if user_id is None or not await self._conversation_exists(conn, user_id):
                raise ChatError(errors.NO_SUCH_USER)
            owner = me.id
        msg = await self._validated_content(me, shop_id, data)
        message = NewMessage(shop_id=shop_id, user_id=user_id, from_id=me.id, from_type=me.role,
                             to_id=owner if me.role == "user" else user_id, to_type=data.to_type, msg=msg,
                             msg_type=data.msg_type, client_msg_id=cmid, nickname=me.nickname, avatar=me.avatar,
                             client=me.client)
        settled = self.tasks.loop.create_future()
        self.writer.submit(message, owner).add_done_callback(partial(self._stored, conn, message, settled))
        return settled

    def _stored(self, conn: Connection, message: NewMessage, settled: asyncio.Future, stored: asyncio.Future) -> None:
        """The writer's answer. A done-callback, not a coroutine resumed later: callbacks run in the
        order the writer resolves its futures, which is commit order, so every frame is published
        in commit order (per conversation: in seq order), whichever connections sent them."""
        exc = ConnectionError("store cancelled") if stored.cancelled() else stored.exception()
        if exc is None:
            record, rel = stored.result()
            me = conn.principal
            # Encoded once, for every connection of both sides on every node.
            payload = frame("chat", wire.record(record, self.tz, me.nickname, me.avatar))
            seq_key = (message.shop_id, message.user_id, record["seq"])
            self.hub.publish(me.topic, payload, seq_key)
            peer = kefu_topic(rel["kefu_id"]) if me.role == "user" else user_topic(message.shop_id, message.user_id)
            self.hub.publish(peer, payload, seq_key)
        elif isinstance(exc, DuplicateMessage):
            # A retry: the sender gets the original back, nobody gets anything twice.
            self.tasks.spawn(self._send_original(conn, message)).add_done_callback(lambda _: settled.set_result(None))
            return
        else:
            log.warning("%r: storing a message failed: %r", conn, exc)
            conn.send(message_frame("error", errors.BUSY))
        settled.set_result(None)

    async def _send_original(self, conn: Connection, message: NewMessage) -> None:
        try:
            original = await conversations.record_by_client_msg_id(self.pool, message.from_type, message.from_id,
                                                                   message.client_msg_id)
        except Exception as exc:   # the database went away meanwhile: the client retries again
            log.warning("%r: could not fetch the original of a retried message: %r", conn, exc)
            conn.send(message_frame("error", errors.BUSY))
            return
        if original is not None:
            conn.send(frame("chat", wire.record(original, self.tz)))

    async def _conversation_exists(self, conn: Connection, user_id: int) -> bool:
        if conn.known is not None and user_id in conn.known:
            return True
        if not await conversations.conversation_exists(self.pool, conn.principal.shop_id, user_id):
            return False
        if conn.known is None:
            conn.known = {}
        conn.known[user_id] = 1
        return True

    async def _owner_for_user_message(self, conn: Connection, hint: int | None) -> int:
        """The owner to give a conversation that has none yet. Once it has one, the store statement
        keeps it whatever is passed here, so a connection that has seen an owner asks no more."""
        me = conn.principal
        if conn.known is not None and me.shop_id in conn.known:
            return conn.known[me.shop_id]
        rel = await conversations.relation(self.pool, me.shop_id, me.id)
        if rel is not None and rel["kefu_id"]:
            conn.known = {me.shop_id: rel["kefu_id"]}
            return rel["kefu_id"]
        if hint is None:
            raise ChatError(errors.NO_SUCH_KEFU)
        owner = await assignment.choose_owner(self.pool, self.presence, me.shop_id, None, hint,
                                              self.settings.kefu_capacity)
        if owner is None:
            raise ChatError(errors.NO_SUCH_KEFU)
        await self.presence.set_owner(me.shop_id, me.id, owner)
        conn.known = {me.shop_id: owner}
        return owner

    async def _validated_content(self, me: Principal, shop_id: int, data: ChatData) -> str:
        raw = data.msg if isinstance(data.msg, str) else str(data.msg)
        if data.msg_type == TEXT:
            if not raw.strip():
                raise ChatError(errors.EMPTY_TEXT)
            if "\x00" in raw:
                raise ChatError(errors.BAD_CHARACTER)   # Postgres text cannot hold U+0000
            if len(raw) > self.settings.max_text_length:
                raise ChatError(errors.TEXT_TOO_LONG)
            return wire.escape_text(raw)
        if data.msg_type == IMAGE:
            if not IMAGE_PATH_RE.match(raw) or ".." in raw:
                raise ChatError(errors.BAD_IMAGE)
            if not await is_own_upload(self.pool, me.role, me.id, raw):
                raise ChatError(errors.BAD_IMAGE)
            return raw
        if data.msg_type == GOODS:
            goods_id = to_int(raw)
            if goods_id is None:
                raise ChatError(errors.NO_SUCH_GOODS)
            try:
                card = await self.commerce.goods_card(goods_id)
            except (CommerceUnavailable, CommerceError):
                raise ChatError(errors.GOODS_UNAVAILABLE) from None
            if (card is None or card.get("del") or card.get("status") != 1 or card.get("audit_status", 1) != 1
                    or (shop_id != 0 and card.get("shop_id") != shop_id)):
                raise ChatError(errors.NO_SUCH_GOODS)
            return orjson.dumps({"id": card["id"], "image": card["image"], "min_price": card["min_price"],
                                 "name": card["name"]}).decode()
        raise ChatError(errors.BAD_MSG_TYPE)

    # ------------------------------------------------------------------------------ user_online

    async def user_online(self, conn: Connection, data: UserOnlineData) -> None:
        me = conn.principal
        rel = await conversations.relation(self.pool, me.shop_id, me.id)
        owner = await assignment.choose_owner(self.pool, self.presence, me.shop_id,
                                              rel["kefu_id"] if rel else None, to_int(data.kefu_id),
                                              self.settings.kefu_capacity)
        if owner is None:
            raise ChatError(errors.NO_SUCH_KEFU)
        rel = await conversations.open_conversation(self.pool, me.shop_id, me.id, owner, me.nickname, me.avatar,
                                                    me.client)
        await self.presence.set_owner(me.shop_id, me.id, owner)
        conn.known = {me.shop_id: owner}
        self.hub.publish(kefu_topic(owner), frame("user_online", wire.relation(rel, self.tz, True)))

    async def user_went_offline(self, principal: Principal, owner: int | None) -> None:
        """The buyer's last connection for this shop closed: tell the owning kefu."""
        rel = await conversations.relation(self.pool, principal.shop_id, principal.id)
        if rel is None:
            return
        # The conversation row knows the owner for sure (presence may lag a transfer on another node).
        self.hub.publish(kefu_topic(rel["kefu_id"] or owner), frame("user_online", wire.relation(rel, self.tz, False)))

    # --------------------------------------------------------------------------------- transfer

    async def transfer(self, conn: Connection, data: TransferData) -> None:
        me = conn.principal
        user_id, target_id = to_int(data.user_id), to_int(data.kefu_id)
        if user_id is None or target_id is None or target_id == me.id:
            raise ChatError(errors.TRANSFER_FAILED)
        target = await principals.usable_kefu(self.pool, target_id)
        if target is None or target["shop_id"] != me.shop_id:
            raise ChatError(errors.TRANSFER_FAILED)
        if not await self.presence.is_kefu_online(target_id):
            raise ChatError(errors.KEFU_OFFLINE)
        notice = NewMessage(shop_id=me.shop_id, user_id=user_id, from_id=target_id, from_type="kefu",
                            to_id=user_id, to_type="user", msg=wire.escape_text(f"客服({target['nickname']})为您服务"),
                            msg_type=TEXT, type=NOTICE)
        moved = await conversations.transfer(self.pool, me.shop_id, user_id, me.id, target_id, notice)
        if moved is None:
            raise ChatError(errors.TRANSFER_FAILED)   # not (or no longer) the owner
        record, rel = moved
        buyer = user_topic(me.shop_id, user_id)
        self.hub.publish(buyer, frame("chat", wire.record(record, self.tz, target["nickname"], target["avatar"])),
                         (me.shop_id, user_id, record["seq"]))
        await self.presence.set_owner(me.shop_id, user_id, target_id)
        self.hub.publish(buyer, frame("transfer", {"id": target_id, "nickname": target["nickname"],
                                                         "avater": target["avatar"], "avatar": target["avatar"]}))
        self.hub.publish(me.topic, frame("transfer", {"status": "send_success"}))
        online = bool(await self.presence.users_online(me.shop_id, [user_id]))
        self.hub.publish(kefu_topic(target_id), frame("transfer", {
            "status": "get_success", "user": wire.relation(rel, self.tz, online)}))

    # ------------------------------------------------------------------------------------- read

    async def read(self, conn: Connection, data: ReadData) -> None:
        me = conn.principal
        shop_id = to_int(data.shop_id) if data.shop_id is not None else me.shop_id
        if shop_id != me.shop_id:
            raise ChatError(errors.FORBIDDEN_SHOP)
        if me.role == "kefu":
            user_id = to_int(data.user_id)
            if user_id is None:
                raise ChatError(errors.NO_SUCH_USER)
            rel = await conversations.mark_read_by_kefu(self.pool, shop_id, user_id)
            if rel is None:
                raise ChatError(errors.NO_SUCH_USER)
            receipt = {"shop_id": shop_id, "user_id": user_id, "reader_type": "kefu", "read_seq": rel["kefu_read_seq"]}
            self.hub.publish(user_topic(shop_id, user_id), frame("read", receipt))
            self.hub.publish(me.topic, frame("read", receipt))   # the agent's other tabs
        else:
            rel = await conversations.mark_read_by_user(self.pool, shop_id, me.id)
            if rel is None:
                return   # nothing to read yet
            receipt = {"shop_id": shop_id, "user_id": me.id, "reader_type": "user", "read_seq": rel["user_read_seq"]}
            if rel["kefu_id"]:
                self.hub.publish(kefu_topic(rel["kefu_id"]), frame("read", receipt))

    # ------------------------------------------------------------------------------------- sync

    async def sync(self, conn: Connection, data: SyncData) -> int:
        """Replay what the client missed; returns the bytes replayed (the view charges them to the
        rate limit). Past the bound in records or in bytes nothing is replayed (`recovered: false`)."""
        me = conn.principal
        shop_id = to_int(data.shop_id)
        user_id = me.id if me.role == "user" else to_int(data.user_id)
        if shop_id != me.shop_id or (me.role == "user" and data.user_id is not None and to_int(data.user_id) != me.id):
            raise ChatError(errors.FORBIDDEN_SHOP)
        if user_id is None or data.after_seq < 0:
            raise ChatError(errors.NO_SUCH_USER)
        limit, max_bytes = self.settings.sync_replay_limit, self.settings.sync_replay_max_bytes
        # Frames arriving while the replay is fetched wait, then follow it, minus what it covered:
        # nothing is lost, nothing overtakes the replay, nothing comes twice.
        conn.hold()
        try:
            rows = await conversations.records_after(self.pool, shop_id, user_id, data.after_seq, limit + 1)
            payloads, size = [], 0
            if len(rows) <= limit:
                for row in rows:
                    payloads.append(payload := frame("chat", wire.record(row, self.tz)))
                    size += len(payload)
                    if size > max_bytes:
                        break
            if len(rows) > limit or size > max_bytes:
                last = await conversations.relation(self.pool, shop_id, user_id)
                conn.send(frame("sync", {"shop_id": shop_id, "user_id": user_id,
                                         "last_seq": last["last_seq"] if last else 0, "recovered": False}))
                return 0
            held, conn.held = conn.held, None   # the replay goes out first
            for payload in payloads:
                conn.send(payload)
            last_seq = rows[-1]["seq"] if rows else data.after_seq
            if rows:
                conn.mark_replayed(shop_id, user_id, last_seq)
            conn.send(frame("sync", {"shop_id": shop_id, "user_id": user_id, "last_seq": last_seq,
                                     "recovered": True}))
            conn.held = held
            return size
        finally:
            conn.release()

    # ----------------------------------------------------------------------------------- typing

    async def typing(self, conn: Connection, data: TypingData) -> None:
        me = conn.principal
        if me.role == "kefu":
            if data.to_type != "user" or to_int(data.to_id) is None:
                raise ChatError(errors.BAD_RECIPIENT)
            # Only to a buyer of a conversation of this shop, as for messages (checked before the
            # throttle, so every bad recipient gets its error frame).
            if not await self._conversation_exists(conn, to_int(data.to_id)):
                raise ChatError(errors.NO_SUCH_USER)
        now = time.monotonic()
        if now - conn.typing_at < TYPING_INTERVAL:
            return   # at most one forwarded per sender per 2 s; the rest are dropped silently
        if me.role == "user":
            # Not the connection's cached owner: a transfer (possibly on another node) may have moved it.
            rel = await conversations.relation(self.pool, me.shop_id, me.id)
            if rel is None or not rel["kefu_id"]:
                return
            peer, user_id = kefu_topic(rel["kefu_id"]), me.id
        else:
            user_id = to_int(data.to_id)
            peer = user_topic(me.shop_id, user_id)
        conn.typing_at = now
        self.hub.publish(peer, frame("typing", {"shop_id": me.shop_id, "user_id": user_id,
                                                      "from_id": me.id, "from_type": me.role}))
