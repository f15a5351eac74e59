-- Group commit: store a batch of chat messages in one statement (one round trip, one commit).
-- Element i of every array describes message i; rows come back in the same order (`ord`).
-- Per message: a retried (sender, client_msg_id) returns the stored record as a duplicate;
-- otherwise the conversation's last_seq is bumped under its row lock and the record inserted
-- with that seq, exactly as the single-message statement in chat_server/data/conversations.py.
CREATE FUNCTION chat_store_messages(
    p_shop int[], p_user int[], p_owner int[], p_from_type text[], p_from_id int[], p_to_type text[],
    p_msg text[], p_msg_type int[], p_type int[], p_cmid text[], p_nickname text[], p_avatar text[],
    p_client int[])
RETURNS TABLE (ord int, duplicate boolean, record_id bigint, record_seq bigint, record_to_id int,
               record_create_time timestamptz, record_update_time timestamptz, kefu_id int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i int;
    rel chat_relation%ROWTYPE;
    is_user boolean;
    is_notice boolean;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_shop, 1), 0) LOOP
        ord := i;
        IF p_cmid[i] IS NOT NULL THEN
            SELECT r.id, r.seq, r.to_id, r.create_time, r.update_time
              INTO record_id, record_seq, record_to_id, record_create_time, record_update_time
              FROM chat_record r
             WHERE r.from_type = p_from_type[i] AND r.from_id = p_from_id[i] AND r.client_msg_id = p_cmid[i];
            IF FOUND THEN
                duplicate := true;
                kefu_id := NULL;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        is_user := p_from_type[i] = 'user';
        is_notice := p_type[i] = 2;
        INSERT INTO chat_relation AS cr (shop_id, user_id, kefu_id, nickname, avatar, client, msg, msg_type,
                                         is_read, unread, last_seq)
        VALUES (p_shop[i], p_user[i], p_owner[i], p_nickname[i], p_avatar[i], p_client[i], p_msg[i], p_msg_type[i],
                CASE WHEN is_user THEN 0 ELSE 1 END, CASE WHEN is_user THEN 1 ELSE 0 END, 1)
        ON CONFLICT (shop_id, user_id) DO UPDATE SET
            last_seq = cr.last_seq + 1,
            kefu_id = CASE WHEN cr.kefu_id = 0 THEN EXCLUDED.kefu_id ELSE cr.kefu_id END,
            msg = CASE WHEN is_notice THEN cr.msg ELSE EXCLUDED.msg END,
            msg_type = CASE WHEN is_notice THEN cr.msg_type ELSE EXCLUDED.msg_type END,
            is_read = CASE WHEN is_notice THEN cr.is_read WHEN is_user THEN 0 ELSE 1 END,
            unread = CASE WHEN is_notice THEN cr.unread WHEN is_user THEN cr.unread + 1 ELSE 0 END,
            kefu_read_seq = CASE WHEN NOT is_user AND NOT is_notice THEN cr.last_seq + 1 ELSE cr.kefu_read_seq END,
            nickname = CASE WHEN is_user THEN EXCLUDED.nickname ELSE cr.nickname END,
            avatar = CASE WHEN is_user THEN EXCLUDED.avatar ELSE cr.avatar END,
            client = CASE WHEN is_user THEN EXCLUDED.client ELSE cr.client END,
            update_time = now()
        RETURNING * INTO rel;
        INSERT INTO chat_record (shop_id, user_id, seq, from_id, from_type, to_id, to_type, msg, msg_type,
                                 type, client_msg_id)
        VALUES (p_shop[i], p_user[i], rel.last_seq, p_from_id[i], p_from_type[i],
                CASE WHEN p_to_type[i] = 'kefu' THEN rel.kefu_id ELSE p_user[i] END, p_to_type[i],
                p_msg[i], p_msg_type[i], p_type[i], p_cmid[i])
        RETURNING chat_record.id, chat_record.seq, chat_record.to_id, chat_record.create_time,
                  chat_record.update_time
             INTO record_id, record_seq, record_to_id, record_create_time, record_update_time;
        duplicate := false;
        kefu_id := rel.kefu_id;
        RETURN NEXT;
    END LOOP;
END
$$;
