-- The shared schema: the likeshop B2B2C mall tables the chat needs (by meaning, without the ls_
-- prefix) plus the chat tables of spec section 7. Shop 0 is the platform: it has no `shop` row, so
-- the chat tables' shop_id carries a CHECK instead of a foreign key.
-- `del` is the mall's soft-delete flag (0 live, 1 deleted); `disable` 0 enabled, 1 disabled.

CREATE TABLE user_level (
    id            serial PRIMARY KEY,
    name          text NOT NULL,
    growth_value  integer NOT NULL DEFAULT 0,
    image         text NOT NULL DEFAULT '',
    discount      numeric(4, 2) NOT NULL DEFAULT 10,
    remark        text NOT NULL DEFAULT '',
    del           smallint NOT NULL DEFAULT 0,
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE "user" (
    id                  serial PRIMARY KEY,
    sn                  text NOT NULL UNIQUE,
    nickname            text NOT NULL DEFAULT '',
    avatar              text NOT NULL DEFAULT '',
    mobile              text,
    level               integer REFERENCES user_level (id),
    password            text NOT NULL DEFAULT '',
    -- salt of a legacy likeshop md5 password; empty for argon2 hashes
    salt                text NOT NULL DEFAULT '',
    sex                 smallint NOT NULL DEFAULT 0,
    birthday            date,
    user_money          numeric(12, 2) NOT NULL DEFAULT 0,
    user_integral       integer NOT NULL DEFAULT 0,
    total_order_amount  numeric(12, 2) NOT NULL DEFAULT 0,
    client              smallint NOT NULL DEFAULT 6,
    disable             smallint NOT NULL DEFAULT 0,
    del                 smallint NOT NULL DEFAULT 0,
    login_time          timestamptz,
    login_ip            text NOT NULL DEFAULT '',
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_mobile_live ON "user" (mobile) WHERE del = 0;

CREATE TABLE admin (
    id           serial PRIMARY KEY,
    root         smallint NOT NULL DEFAULT 0,
    name         text NOT NULL DEFAULT '',
    account      text NOT NULL,
    password     text NOT NULL,
    salt         text NOT NULL DEFAULT '',
    avatar       text NOT NULL DEFAULT '',
    disable      smallint NOT NULL DEFAULT 0,
    del          smallint NOT NULL DEFAULT 0,
    login_time   timestamptz,
    login_ip     text NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX admin_account_live ON admin (account) WHERE del = 0;

CREATE TABLE shop (
    id            serial PRIMARY KEY,
    name          text NOT NULL,
    logo          text NOT NULL DEFAULT '',
    background    text NOT NULL DEFAULT '',
    type          smallint NOT NULL DEFAULT 2,          -- 1 self-run, 2 settled merchant
    intro         text NOT NULL DEFAULT '',
    nickname      text NOT NULL DEFAULT '',            -- contact person
    mobile        text NOT NULL DEFAULT '',
    score         numeric(3, 1) NOT NULL DEFAULT 5,
    visited_num   integer NOT NULL DEFAULT 0,
    is_run        smallint NOT NULL DEFAULT 1,          -- 1 open for business, 0 paused
    is_freeze     smallint NOT NULL DEFAULT 0,
    del           smallint NOT NULL DEFAULT 0,
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shop_admin (
    id           serial PRIMARY KEY,
    shop_id      integer NOT NULL REFERENCES shop (id),
    root         smallint NOT NULL DEFAULT 0,
    name         text NOT NULL DEFAULT '',
    account      text NOT NULL,
    password     text NOT NULL,
    salt         text NOT NULL DEFAULT '',
    avatar       text NOT NULL DEFAULT '',
    disable      smallint NOT NULL DEFAULT 0,
    del          smallint NOT NULL DEFAULT 0,
    login_time   timestamptz,
    login_ip     text NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now()
);
-- merchant login is by account alone, so accounts are unique across shops
CREATE UNIQUE INDEX shop_admin_account_live ON shop_admin (account) WHERE del = 0;
CREATE INDEX shop_admin_shop ON shop_admin (shop_id);

CREATE TABLE goods (
    id            serial PRIMARY KEY,
    shop_id       integer NOT NULL REFERENCES shop (id),
    name          text NOT NULL,
    code          text NOT NULL DEFAULT '',
    image         text NOT NULL DEFAULT '',
    remark        text NOT NULL DEFAULT '',
    content       text NOT NULL DEFAULT '',
    min_price     numeric(10, 2) NOT NULL DEFAULT 0,
    max_price     numeric(10, 2) NOT NULL DEFAULT 0,
    market_price  numeric(10, 2) NOT NULL DEFAULT 0,
    stock         integer NOT NULL DEFAULT 0,
    sales_actual  integer NOT NULL DEFAULT 0,
    status        smallint NOT NULL DEFAULT 1,          -- 1 on sale, 0 in the warehouse
    audit_status  smallint NOT NULL DEFAULT 1,          -- 1 approved by the platform
    sort          integer NOT NULL DEFAULT 0,
    del           smallint NOT NULL DEFAULT 0,
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX goods_shop_listing ON goods (shop_id, sort DESC, id DESC) WHERE del = 0;

CREATE TABLE "order" (
    id               serial PRIMARY KEY,
    order_sn         text NOT NULL UNIQUE,
    user_id          integer NOT NULL REFERENCES "user" (id),
    shop_id          integer NOT NULL REFERENCES shop (id),
    order_type       smallint NOT NULL DEFAULT 0,       -- 0 normal, 1 seckill, 2 team, 3 bargain
    order_source     smallint NOT NULL DEFAULT 6,       -- client the order came from
    order_status     smallint NOT NULL DEFAULT 0,       -- 0 unpaid, 1 to ship, 2 shipped, 3 done, 4 closed
    pay_status       smallint NOT NULL DEFAULT 0,
    pay_way          smallint NOT NULL DEFAULT 0,
    pay_time         timestamptz,
    consignee        text NOT NULL DEFAULT '',
    mobile           text NOT NULL DEFAULT '',
    address          text NOT NULL DEFAULT '',
    goods_price      numeric(12, 2) NOT NULL DEFAULT 0,
    shipping_price   numeric(12, 2) NOT NULL DEFAULT 0,
    discount_amount  numeric(12, 2) NOT NULL DEFAULT 0,
    order_amount     numeric(12, 2) NOT NULL DEFAULT 0,
    total_num        integer NOT NULL DEFAULT 0,
    user_remark      text NOT NULL DEFAULT '',
    del              smallint NOT NULL DEFAULT 0,
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_user_listing ON "order" (user_id, id DESC) WHERE del = 0;
CREATE INDEX order_user_shop_listing ON "order" (user_id, shop_id, id DESC) WHERE del = 0;

CREATE TABLE order_goods (
    id               serial PRIMARY KEY,
    order_id         integer NOT NULL REFERENCES "order" (id) ON DELETE CASCADE,
    goods_id         integer NOT NULL REFERENCES goods (id),
    goods_name       text NOT NULL,
    image            text NOT NULL DEFAULT '',
    spec_value_str   text NOT NULL DEFAULT '',
    goods_num        integer NOT NULL,
    goods_price      numeric(10, 2) NOT NULL,
    total_price      numeric(12, 2) NOT NULL,
    total_pay_price  numeric(12, 2) NOT NULL,
    create_time      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_goods_order ON order_goods (order_id);

-- Uploaded files. uploader_type/uploader_id say who uploaded it, so that an image message can be
-- checked against the sender's own uploads.
CREATE TABLE file (
    id             serial PRIMARY KEY,
    cid            integer NOT NULL DEFAULT 0,
    type           smallint NOT NULL DEFAULT 10,        -- 10 image
    name           text NOT NULL,
    uri            text NOT NULL UNIQUE,
    shop_id        integer NOT NULL DEFAULT 0 CHECK (shop_id >= 0),
    uploader_type  text NOT NULL CHECK (uploader_type IN ('user', 'kefu', 'admin', 'shop_admin')),
    uploader_id    integer NOT NULL,
    size           integer NOT NULL,
    del            smallint NOT NULL DEFAULT 0,
    create_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX file_uploader ON file (uploader_type, uploader_id, uri);

-- Settings by shop (0 = platform): type 'kefu' holds the customer-service mode and contact data.
CREATE TABLE config (
    id           serial PRIMARY KEY,
    shop_id      integer NOT NULL DEFAULT 0 CHECK (shop_id >= 0),
    type         text NOT NULL,
    name         text NOT NULL,
    value        text NOT NULL DEFAULT '',
    update_time  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, type, name)
);

-- Buyer login sessions: one per (user, client), token random 32 hex.
CREATE TABLE session (
    id           serial PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES "user" (id),
    token        text NOT NULL UNIQUE CHECK (token ~ '^[0-9a-f]{32}$'),
    client       smallint NOT NULL,
    update_time  timestamptz NOT NULL DEFAULT now(),
    expire_time  timestamptz NOT NULL,
    UNIQUE (user_id, client)
);

-- Back-office sessions (this project's; the mall keeps them elsewhere): admin_type 'admin' is a
-- platform admin, 'shop_admin' a merchant admin.
CREATE TABLE admin_session (
    id           serial PRIMARY KEY,
    admin_type   text NOT NULL CHECK (admin_type IN ('admin', 'shop_admin')),
    admin_id     integer NOT NULL,
    shop_id      integer NOT NULL DEFAULT 0 CHECK (shop_id >= 0),
    token        text NOT NULL UNIQUE CHECK (token ~ '^[0-9a-f]{32}$'),
    client       smallint NOT NULL,
    update_time  timestamptz NOT NULL DEFAULT now(),
    expire_time  timestamptz NOT NULL,
    UNIQUE (admin_type, admin_id, client)
);

-- A customer-service agent: shop 0 agents are bound to an `admin`, others to a `shop_admin`.
CREATE TABLE kefu (
    id           serial PRIMARY KEY,
    shop_id      integer NOT NULL DEFAULT 0 CHECK (shop_id >= 0),
    admin_id     integer NOT NULL,
    nickname     text NOT NULL,
    avatar       text NOT NULL DEFAULT '',
    disable      smallint NOT NULL DEFAULT 0,
    sort         integer NOT NULL DEFAULT 1,
    del          smallint NOT NULL DEFAULT 0,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX kefu_admin_live ON kefu (shop_id, admin_id) WHERE del = 0;

CREATE TABLE kefu_session (
    id           serial PRIMARY KEY,
    kefu_id      integer NOT NULL REFERENCES kefu (id),
    shop_id      integer NOT NULL CHECK (shop_id >= 0),
    token        text NOT NULL UNIQUE CHECK (token ~ '^[0-9a-f]{32}$'),
    client       smallint NOT NULL,
    update_time  timestamptz NOT NULL DEFAULT now(),
    expire_time  timestamptz NOT NULL,
    UNIQUE (kefu_id, client)
);

-- A back-office account that is disabled or deleted takes its kefu out of the chat: their
-- sessions go and, in the same transaction, `kefu_revoked` carries each kefu id to the chat
-- servers, which LISTEN and close that kefu's sockets. A trigger, because the mall changes these
-- accounts from its own back office, outside this project's code.
CREATE FUNCTION revoke_kefu_of_admin() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kefu_shop integer;
    revoked integer;
BEGIN
    IF TG_TABLE_NAME = 'admin' THEN
        kefu_shop := 0;
    ELSE
        kefu_shop := NEW.shop_id;
    END IF;
    FOR revoked IN SELECT id FROM kefu WHERE shop_id = kefu_shop AND admin_id = NEW.id AND del = 0 LOOP
        DELETE FROM kefu_session WHERE kefu_id = revoked;
        PERFORM pg_notify('kefu_revoked', revoked::text);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER admin_revokes_kefu AFTER UPDATE OF disable, del ON admin
    FOR EACH ROW WHEN (NEW.disable <> 0 OR NEW.del <> 0) EXECUTE FUNCTION revoke_kefu_of_admin();
CREATE TRIGGER shop_admin_revokes_kefu AFTER UPDATE OF disable, del ON shop_admin
    FOR EACH ROW WHEN (NEW.disable <> 0 OR NEW.del <> 0) EXECUTE FUNCTION revoke_kefu_of_admin();

-- Quick replies, per shop; title and content each unique within a shop.
CREATE TABLE kefu_lang (
    id           serial PRIMARY KEY,
    shop_id      integer NOT NULL DEFAULT 0 CHECK (shop_id >= 0),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 64),
    content      text NOT NULL CHECK (length(content) BETWEEN 1 AND 1000),
    sort         integer NOT NULL DEFAULT 1,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, title),
    UNIQUE (shop_id, content)
);

-- One conversation per (shop, buyer). last_seq is the conversation's sequence counter: a message
-- takes last_seq + 1 under the row lock, which gives gap-free per-conversation order.
CREATE TABLE chat_relation (
    id           bigserial PRIMARY KEY,
    shop_id      integer NOT NULL CHECK (shop_id >= 0),
    user_id      integer NOT NULL REFERENCES "user" (id),
    kefu_id      integer NOT NULL DEFAULT 0,
    nickname     text NOT NULL DEFAULT '',
    avatar       text NOT NULL DEFAULT '',
    client       smallint NOT NULL DEFAULT 0,
    msg          text NOT NULL DEFAULT '',
    msg_type     smallint NOT NULL DEFAULT 1,
    is_read      smallint NOT NULL DEFAULT 1,
    unread       integer NOT NULL DEFAULT 0,
    last_seq     bigint NOT NULL DEFAULT 0,
    kefu_read_seq bigint NOT NULL DEFAULT 0,
    user_read_seq bigint NOT NULL DEFAULT 0,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, user_id)
);
CREATE INDEX chat_relation_kefu_list ON chat_relation (kefu_id, update_time DESC);
CREATE INDEX chat_relation_user ON chat_relation (user_id);

CREATE TABLE chat_record (
    id             bigserial PRIMARY KEY,
    shop_id        integer NOT NULL CHECK (shop_id >= 0),
    user_id        integer NOT NULL,
    seq            bigint NOT NULL,
    from_id        integer NOT NULL,
    from_type      text NOT NULL CHECK (from_type IN ('user', 'kefu')),
    to_id          integer NOT NULL,
    to_type        text NOT NULL CHECK (to_type IN ('user', 'kefu')),
    msg            text NOT NULL,
    msg_type       smallint NOT NULL,
    is_read        smallint NOT NULL DEFAULT 0,
    type           smallint NOT NULL DEFAULT 1,         -- 1 normal, 2 notice
    client_msg_id  text CHECK (length(client_msg_id) BETWEEN 1 AND 64),
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, user_id, seq)
);
CREATE UNIQUE INDEX chat_record_client_msg ON chat_record (from_type, from_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
