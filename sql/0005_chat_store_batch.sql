-- Group commit, set-based: store a batch of chat messages with one statement per "wave" (usually
-- one) instead of two or three statements per message (chat_store_messages, sql/0002, dropped
-- below), taking each wave as one JSON parameter instead of 13 arrays (far cheaper for the client
-- to encode).
--
-- p_waves: JSON arrays of chat messages (type 1), each message with the fields of
-- chat_server.data.conversations.NewMessage (`type` and `to_id` are not read), stored wave after
-- wave. No two messages of a wave may belong to the same conversation (the upsert fails: "cannot
-- affect row a second time"), and no two messages of the batch may share a (from_type, from_id,
-- client_msg_id): in one wave the insert fails with a unique violation, and in two the later wave's
-- would be the duplicate, whichever came first. p_owners: for each message, wave after wave, the
-- owner to give its conversation if it has none (owner_if_new). The caller
-- (conversations.store_messages) leaves repeated client_msg_ids out, and puts the first message of
-- every conversation of the batch in the first wave, the second ones in the second, and so on.
--
-- Each wave's outcome is that of storing its messages one by one with the single-message
-- statement (chat_server/data/conversations.py, _STORE) with type 1: each is its conversation's
-- only message in the wave, so the statement's upsert and insert run once for all of them, and the
-- conversation rows are created or locked in (shop_id, user_id) order. The first wave holds every
-- conversation of the batch and the later ones touch only rows the transaction holds already:
-- batches of several nodes cannot deadlock. A message whose (from_type, from_id, client_msg_id) is
-- stored already is a duplicate: it changes nothing and is left out of the result.
--
-- Result: one row per message stored; `position` is its (1-based) place in the concatenation of
-- the waves (that of p_owners), `kefu_id` its conversation's owner after it.
CREATE FUNCTION chat_store_batch(p_waves json[], p_owners int[])
RETURNS TABLE ("position" int, record_id bigint, record_seq bigint, record_to_id int, record_create_time timestamptz,
               kefu_id int)
-- Generic plans: they do not depend on the parameters, and planning at every call would cost more
-- than running the statement. Every join here is between the batch's own rows: hash them rather
-- than risk a nested loop over misestimated row counts.
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_nestloop = off AS $$
#variable_conflict use_column
DECLARE
    v_wave json;
    v_offset int := 0;    -- messages of the earlier waves
BEGIN
    FOR v_i IN 1 .. cardinality(p_waves) LOOP
        v_wave := p_waves[v_i];
        RETURN QUERY
        WITH m AS (
            SELECT m.*, v_offset + m.ord AS pos, p_owners[v_offset + m.ord] AS owner
              FROM ROWS FROM (json_to_recordset(v_wave) AS (
                       shop_id int, user_id int, from_id int, from_type text, to_type text, msg text, msg_type int,
                       client_msg_id text, nickname text, avatar text, client int)) WITH ORDINALITY
                   AS m(shop_id, user_id, from_id, from_type, to_type, msg, msg_type, client_msg_id, nickname,
                        avatar, client, ord)
             WHERE m.client_msg_id IS NULL
                OR (SELECT true FROM chat_record r WHERE r.from_type = m.from_type AND r.from_id = m.from_id
                                                     AND r.client_msg_id = m.client_msg_id) IS NULL
        ), rel AS (
            -- The single-message statement's upsert with $9 = 1. In the VALUES, is_read is 0 exactly
            -- for a buyer's message: EXCLUDED.is_read = 0 is the statement's $4 = 'user'.
            INSERT INTO chat_relation AS cr (shop_id, user_id, kefu_id, nickname, avatar, client, msg, msg_type,
                                             is_read, unread, last_seq)
            SELECT shop_id, user_id, owner, nickname, avatar, client, msg, msg_type,
                   CASE WHEN from_type = 'user' THEN 0 ELSE 1 END, CASE WHEN from_type = 'user' THEN 1 ELSE 0 END, 1
              FROM m
             ORDER BY shop_id, user_id
            ON CONFLICT (shop_id, user_id) DO UPDATE SET
                last_seq = cr.last_seq + 1,
                kefu_id = CASE WHEN cr.kefu_id = 0 THEN EXCLUDED.kefu_id ELSE cr.kefu_id END,
                msg = EXCLUDED.msg,
                msg_type = EXCLUDED.msg_type,
                is_read = CASE WHEN EXCLUDED.is_read = 0 THEN 0 ELSE 1 END,
                unread = CASE WHEN EXCLUDED.is_read = 0 THEN cr.unread + 1 ELSE 0 END,
                kefu_read_seq = CASE WHEN EXCLUDED.is_read <> 0 THEN cr.last_seq + 1 ELSE cr.kefu_read_seq END,
                nickname = CASE WHEN EXCLUDED.is_read = 0 THEN EXCLUDED.nickname ELSE cr.nickname END,
                avatar = CASE WHEN EXCLUDED.is_read = 0 THEN EXCLUDED.avatar ELSE cr.avatar END,
                client = CASE WHEN EXCLUDED.is_read = 0 THEN EXCLUDED.client ELSE cr.client END,
                update_time = now()
            RETURNING cr.shop_id, cr.user_id, cr.last_seq, cr.kefu_id
        ), rec AS (
            -- record ids taken in the wave's order, as storing one by one would take them
            SELECT m.*, nextval('chat_record_id_seq') AS id, rel.last_seq AS seq, rel.kefu_id,
                   CASE WHEN m.to_type = 'kefu' THEN rel.kefu_id ELSE m.user_id END AS to_id
              FROM m JOIN rel USING (shop_id, user_id)
             ORDER BY m.ord
        ), inserted AS (
            INSERT INTO chat_record (id, shop_id, user_id, seq, from_id, from_type, to_id, to_type, msg, msg_type,
                                     type, client_msg_id)
            SELECT id, shop_id, user_id, seq, from_id, from_type, to_id, to_type, msg, msg_type, 1, client_msg_id
              FROM rec
        )
        SELECT rec.pos::int, rec.id, rec.seq, rec.to_id, now(), rec.kefu_id FROM rec;
        IF v_i < cardinality(p_waves) THEN
            v_offset := v_offset + json_array_length(v_wave);
        END IF;
    END LOOP;
END
$$;

DROP FUNCTION chat_store_messages(int[], int[], int[], text[], int[], text[], text[], int[], int[], text[], text[],
                                  text[], int[]);
