"""The demo data set (`kefu seed-demo`): fixed ids that tests, load testers and newcomers rely on.

Seeding is idempotent: every row has a fixed id and is inserted with ON CONFLICT DO NOTHING, so a
second run changes nothing and keeps whatever the demo's users changed since. Each demo password
is hashed once and the hash shared by all accounts that use it.
"""
from __future__ import annotations

import asyncio
import struct
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg

from shared.passwords import hash_password
from shared.tokens import new_token

ADMIN_PASSWORD = "admin123456"
SHOP_PASSWORD = "shop123456"
USER_PASSWORD = "user123456"
BUYER_COUNT = 20
GOODS_PER_SHOP = 12          # the first 10 on sale, the last 2 off sale
ON_SALE_PER_SHOP = 10
ORDER_BUYERS = 5


@dataclass(frozen=True)
class DemoShop:
    id: int
    name: str
    admins: tuple[tuple[int, str, str], ...]   # (shop_admin id, account, name)
    kefu: tuple[tuple[int, int, str], ...]      # (kefu id, shop_admin id, nickname)


SHOPS = (
    DemoShop(1, "Demo Shop", ((1, "shop1", "Demo店长"), (2, "shop1b", "Demo店员")),
             ((2, 1, "Demo客服A"), (3, 2, "Demo客服B"))),
    DemoShop(2, "Second Shop", ((3, "shop2", "Second店长"),), ((4, 3, "Second客服"),)),
)
PLATFORM_KEFU_ID = 1

QUICK_REPLIES = {
    0: [("问候", "您好，平台客服很高兴为您服务，请问有什么可以帮您？"),
        ("售后", "售后问题请提供订单号，我们会尽快为您处理。"),
        ("结束语", "感谢您的咨询，祝您购物愉快！")],
    1: [("问候", "您好，欢迎光临 Demo Shop，请问有什么可以帮您？"),
        ("发货时间", "付款后 48 小时内发货，节假日顺延。"),
        ("退换货", "支持七天无理由退换货，请在订单页申请售后。"),
        ("结束语", "感谢您的光临，欢迎再来！")],
    2: [("问候", "您好，这里是 Second Shop，请问有什么可以帮您？"),
        ("库存", "页面显示有货即可下单，我们会尽快发货。"),
        ("结束语", "感谢您的咨询！")],
}

ORDER_TYPES = (0, 1, 2, 3, 0)   # by order_status 0..4: every status, every order type


def _png(rgb: tuple[int, int, int], size: int = 64) -> bytes:
    """A solid-colour PNG, so the demo's images exist without an image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b""))


def goods_id(shop_id: int, n: int) -> int:
    """Id of the n-th (1-based) goods of a demo shop: shop 1 has 1..12, shop 2 has 13..24."""
    return (shop_id - 1) * GOODS_PER_SHOP + n


def goods_price(shop_id: int, n: int) -> Decimal:
    return Decimal(10 * n + shop_id) + Decimal("0.90")


def write_images(upload_dir: Path) -> None:
    """Demo pictures under UPLOAD_DIR/demo/ (served as uploads/demo/...)."""
    folder = upload_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    images = {"favicon.png": (230, 60, 60), "qrcode.png": (40, 40, 40), "platform_kefu.png": (60, 120, 230),
              "user.png": (150, 150, 150)}
    for shop in SHOPS:
        images[f"shop_{shop.id}.png"] = (60 + 80 * shop.id, 160, 90)
        for kefu_id, _, _ in shop.kefu:
            images[f"kefu_{kefu_id}.png"] = (90, 90 + 30 * kefu_id, 200)
        for n in range(1, GOODS_PER_SHOP + 1):
            images[f"goods_{goods_id(shop.id, n):02d}.png"] = ((n * 20) % 256, (shop.id * 90) % 256, 120)
    for name, rgb in images.items():
        path = folder / name
        if not path.exists():
            path.write_bytes(_png(rgb))


async def seed_demo(dsn: str, upload_dir: Path | None = None) -> None:
    """Load the demo data into a migrated database (idempotent)."""
    admin_hash, shop_hash, user_hash = await asyncio.gather(
        *(asyncio.to_thread(hash_password, p) for p in (ADMIN_PASSWORD, SHOP_PASSWORD, USER_PASSWORD)))
    if upload_dir is not None:
        await asyncio.to_thread(write_images, upload_dir)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await _seed(conn, admin_hash, shop_hash, user_hash)
    finally:
        await conn.close()


async def _seed(conn: asyncpg.Connection, admin_hash: str, shop_hash: str, user_hash: str) -> None:
    await conn.executemany(
        "INSERT INTO user_level (id, name, growth_value, discount) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [(1, "普通会员", 0, Decimal(10)), (2, "黄金会员", 1000, Decimal("9.5")), (3, "钻石会员", 5000, Decimal(9))])

    await conn.execute(
        "INSERT INTO admin (id, root, name, account, password, avatar) VALUES (1, 1, '平台管理员', 'admin', $1,"
        " 'uploads/demo/platform_kefu.png') ON CONFLICT DO NOTHING", admin_hash)
    await conn.execute(
        "INSERT INTO kefu (id, shop_id, admin_id, nickname, avatar, sort) VALUES ($1, 0, 1, '平台客服',"
        " 'uploads/demo/platform_kefu.png', 1) ON CONFLICT DO NOTHING", PLATFORM_KEFU_ID)

    for shop in SHOPS:
        await conn.execute(
            "INSERT INTO shop (id, name, logo, type, intro, nickname, mobile) VALUES ($1, $2, $3, 2, $4, $5, $6)"
            " ON CONFLICT DO NOTHING",
            shop.id, shop.name, f"uploads/demo/shop_{shop.id}.png", f"{shop.name} 的演示店铺",
            shop.admins[0][2], f"1390000000{shop.id}")
        await conn.executemany(
            "INSERT INTO shop_admin (id, shop_id, root, name, account, password) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT DO NOTHING",
            [(aid, shop.id, 1 if i == 0 else 0, name, account, shop_hash)
             for i, (aid, account, name) in enumerate(shop.admins)])
        await conn.executemany(
            "INSERT INTO kefu (id, shop_id, admin_id, nickname, avatar, sort) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT DO NOTHING",
            [(kid, shop.id, aid, nick, f"uploads/demo/kefu_{kid}.png", i + 1)
             for i, (kid, aid, nick) in enumerate(shop.kefu)])
        await conn.executemany(
            "INSERT INTO goods (id, shop_id, name, code, image, remark, content, min_price, max_price, market_price,"
            " stock, status, sort) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12)"
            " ON CONFLICT DO NOTHING",
            [(goods_id(shop.id, n), shop.id, f"{shop.name.split()[0]}商品{n:02d}", f"G{shop.id}{n:03d}",
              f"uploads/demo/goods_{goods_id(shop.id, n):02d}.png", f"{shop.name} 的第 {n} 件商品",
              f"<p>{shop.name} 商品 {n} 的详情</p>", goods_price(shop.id, n),
              goods_price(shop.id, n) + 20, 100 + n, 1 if n <= ON_SALE_PER_SHOP else 0, GOODS_PER_SHOP - n)
             for n in range(1, GOODS_PER_SHOP + 1)])

    await conn.executemany(
        'INSERT INTO "user" (id, sn, nickname, avatar, mobile, level, password, sex, birthday, client)'
        " VALUES ($1, $2, $3, 'uploads/demo/user.png', $4, $5, $6, $7, make_date(1990 + $1::int % 10, 1 + $1::int % 12, 1 + $1::int), 6)"
        " ON CONFLICT DO NOTHING",
        [(i, f"{10000000 + i}", f"买家{i:02d}", f"138{i:08d}", 2 if i <= 3 else 1, user_hash, i % 3)
         for i in range(1, BUYER_COUNT + 1)])

    await _seed_orders(conn)

    for shop_id, replies in QUICK_REPLIES.items():
        await conn.executemany(
            "INSERT INTO kefu_lang (shop_id, title, content, sort) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [(shop_id, title, content, sort) for sort, (title, content) in enumerate(replies, 1)])

    contact = {0: ("likeshop_platform", "400-000-0000"), 1: ("demo_shop_kefu", "020-00000001"),
               2: ("second_shop_kefu", "020-00000002")}
    rows = [(0, "website", "name", "演示商城"), (0, "website", "favicon", "uploads/demo/favicon.png")]
    for shop_id, (wechat, phone) in contact.items():
        rows += [(shop_id, "kefu", "mode", "2"), (shop_id, "kefu", "wechat", wechat), (shop_id, "kefu", "phone", phone),
                 (shop_id, "kefu", "business_time", "09:00-21:00"), (shop_id, "kefu", "image", "uploads/demo/qrcode.png")]
    await conn.executemany(
        "INSERT INTO config (shop_id, type, name, value) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", rows)

    # Fixed ids were inserted explicitly: move every sequence past them.
    for table in ("user_level", "admin", "shop", "shop_admin", "kefu", "goods", '"user"', '"order"', "order_goods"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))")


async def _seed_orders(conn: asyncpg.Connection) -> None:
    orders, lines = [], []
    order_id = 0
    for user_id in range(1, ORDER_BUYERS + 1):
        for shop in SHOPS:
            for status in range(5):
                order_id += 1
                picks = [1 + (user_id + status) % ON_SALE_PER_SHOP]
                if status % 2:
                    picks.append(1 + (user_id + status + 3) % ON_SALE_PER_SHOP)
                amount = Decimal(0)
                for n in picks:
                    gid, price, num = goods_id(shop.id, n), goods_price(shop.id, n), 1 + n % 2
                    lines.append((order_id, gid, f"{shop.name.split()[0]}商品{n:02d}",
                                  f"uploads/demo/goods_{gid:02d}.png", "默认", num, price, price * num))
                    amount += price * num
                paid = status in (1, 2, 3)
                orders.append((order_id, f"D20260101{order_id:06d}", user_id, shop.id, ORDER_TYPES[status], status,
                               1 if paid else 0, f"买家{user_id:02d}", f"138{user_id:08d}",
                               f"广州市天河区演示路 {user_id} 号", amount, sum(1 + n % 2 for n in picks)))
    inserted = await conn.fetch(
        'INSERT INTO "order" (id, order_sn, user_id, shop_id, order_type, order_status, pay_status, consignee,'
        " mobile, address, goods_price, order_amount, total_num, pay_time, create_time)"
        " SELECT o.id, o.sn, o.user_id, o.shop_id, o.order_type, o.order_status, o.pay_status, o.consignee,"
        "        o.mobile, o.address, o.amount, o.amount, o.total_num,"
        "        CASE WHEN o.pay_status = 1 THEN now() - make_interval(days => o.id) END,"
        "        now() - make_interval(days => o.id)"
        "   FROM unnest($1::int[], $2::text[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::text[],"
        "               $9::text[], $10::text[], $11::numeric[], $12::int[])"
        "        AS o(id, sn, user_id, shop_id, order_type, order_status, pay_status, consignee, mobile, address,"
        "             amount, total_num)"
        " ON CONFLICT DO NOTHING RETURNING id",
        *[list(col) for col in zip(*orders)])
    new_ids = {r["id"] for r in inserted}
    await conn.executemany(
        "INSERT INTO order_goods (order_id, goods_id, goods_name, image, spec_value_str, goods_num, goods_price,"
        " total_price, total_pay_price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        [line for line in lines if line[0] in new_ids])
    await conn.execute(
        'UPDATE "user" u SET total_order_amount = t.total FROM (SELECT user_id, sum(order_amount) AS total'
        ' FROM "order" WHERE pay_status = 1 AND user_id = ANY($1::int[]) GROUP BY user_id) t WHERE u.id = t.user_id',
        list(range(1, ORDER_BUYERS + 1)))


# --------------------------------------------------------------------------- load-test buyers

BULK_MOBILE_BASE = 13900000000   # bulk buyer n has mobile 139xxxxxxxx (n = 1, 2, ...)
BULK_SN_BASE = 20000000          # and sn 20000000 + n, clear of the demo buyers' 1000000x
BULK_MAX = 10_000_000
BULK_CLIENT = 6                  # plain H5


async def _stage(conn: asyncpg.Connection, table: str, columns: dict[str, str], records: list[tuple]) -> None:
    """COPY `records` into a temporary table (column → type) dropped at commit: the bulk seeders
    insert from it with one statement per table instead of one per row."""
    await conn.execute(f"CREATE TEMP TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})"
                       " ON COMMIT DROP")
    await conn.copy_records_to_table(table, columns=list(columns), records=records)


async def seed_bulk_buyers(dsn: str, count: int, token_ttl: int = 7 * 86400) -> list[str]:
    """`count` load-test buyers (bulk buyer n: mobile 139 + n in 8 digits, password `user123456`),
    each with a fresh live session for client 6; returns their tokens in buyer order.

    Rerunnable: buyers that exist are kept, every session gets a new token. The rows are loaded
    with COPY and the password is hashed once for all of them (an argon2 hash per buyer would
    take minutes for thousands)."""
    if not 1 <= count <= BULK_MAX:
        raise ValueError(f"count must be from 1 to {BULK_MAX}, got {count}")
    user_hash = await asyncio.to_thread(hash_password, USER_PASSWORD)
    numbers = range(1, count + 1)
    tokens = [new_token() for _ in numbers]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await _stage(conn, "bulk_buyer", {"n": "int", "mobile": "text", "sn": "text", "nickname": "text",
                                              "token": "text"},
                         [(n, str(BULK_MOBILE_BASE + n), str(BULK_SN_BASE + n), f"压测买家{n:05d}", tokens[n - 1])
                          for n in numbers])
            await conn.execute(
                'INSERT INTO "user" (sn, nickname, avatar, mobile, level, password, client)'
                " SELECT b.sn, b.nickname, 'uploads/demo/user.png', b.mobile, 1, $1, $2 FROM bulk_buyer b"
                " ORDER BY b.n ON CONFLICT DO NOTHING", user_hash, BULK_CLIENT)
            await conn.execute(
                "INSERT INTO session (user_id, token, client, expire_time)"
                " SELECT u.id, b.token, $1, now() + make_interval(secs => $2)"
                '   FROM bulk_buyer b JOIN "user" u ON u.mobile = b.mobile AND u.del = 0'
                " ON CONFLICT (user_id, client) DO UPDATE SET token = EXCLUDED.token,"
                "     expire_time = EXCLUDED.expire_time, update_time = now()", BULK_CLIENT, float(token_ttl))
            missing = await conn.fetchval(
                'SELECT count(*) FROM bulk_buyer b WHERE NOT EXISTS (SELECT 1 FROM "user" u'
                " JOIN session s ON s.user_id = u.id AND s.token = b.token WHERE u.mobile = b.mobile AND u.del = 0"
                " AND u.disable = 0)")
            if missing:
                # A bulk mobile taken by a disabled or otherwise unusable account: its token would not work.
                raise RuntimeError(f"{missing} bulk buyers could not get a usable session (mobile 139... taken?)")
    finally:
        await conn.close()
    return tokens


BULK_KEFU_CLIENT = 5


async def seed_bulk_kefu(dsn: str, count: int, shop_id: int = 1, token_ttl: int = 86400
                         ) -> list[tuple[int, int, str]]:
    """`count` load-test kefu of demo shop `shop_id` (kefu n is bound to merchant admin
    `lt_kefu<n>`, password `shop123456`), each with a fresh live session for the console (client 5);
    returns (kefu id, shop id, token) in kefu order. Rerunnable like `seed_bulk_buyers`. The demo
    has four kefu; a load test of thousands of buyers needs a realistic number of agents."""
    if not 1 <= count <= 10_000:
        raise ValueError(f"count must be from 1 to 10000, got {count}")
    shop_hash = await asyncio.to_thread(hash_password, SHOP_PASSWORD)
    tokens = [new_token() for _ in range(count)]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await _stage(conn, "bulk_kefu", {"n": "int", "account": "text", "nickname": "text", "token": "text"},
                         [(n, f"lt_kefu{n:05d}", f"压测客服{n:04d}", tokens[n - 1]) for n in range(1, count + 1)])
            await conn.execute(
                "INSERT INTO shop_admin (shop_id, name, account, password) SELECT $1, b.nickname, b.account, $2"
                " FROM bulk_kefu b ORDER BY b.n ON CONFLICT DO NOTHING", shop_id, shop_hash)
            await conn.execute(
                "INSERT INTO kefu (shop_id, admin_id, nickname, avatar, sort)"
                " SELECT sa.shop_id, sa.id, b.nickname, 'uploads/demo/platform_kefu.png', 100 + b.n"
                "   FROM bulk_kefu b JOIN shop_admin sa ON sa.account = b.account AND sa.del = 0 AND sa.shop_id = $1"
                "  ORDER BY b.n ON CONFLICT DO NOTHING", shop_id)
            rows = await conn.fetch(
                "INSERT INTO kefu_session (kefu_id, shop_id, token, client, expire_time)"
                " SELECT k.id, k.shop_id, b.token, $2, now() + make_interval(secs => $3)"
                "   FROM bulk_kefu b JOIN shop_admin sa ON sa.account = b.account AND sa.del = 0 AND sa.shop_id = $1"
                "   JOIN kefu k ON k.admin_id = sa.id AND k.shop_id = sa.shop_id AND k.del = 0"
                " ON CONFLICT (kefu_id, client) DO UPDATE SET token = EXCLUDED.token,"
                "     expire_time = EXCLUDED.expire_time, update_time = now()"
                " RETURNING kefu_id, shop_id, token", shop_id, BULK_KEFU_CLIENT, float(token_ttl))
    finally:
        await conn.close()
    by_token = {r["token"]: (r["kefu_id"], r["shop_id"], r["token"]) for r in rows}
    if len(by_token) != count:
        raise RuntimeError(f"only {len(by_token)} of {count} load-test kefu could be given a session")
    return [by_token[t] for t in tokens]
