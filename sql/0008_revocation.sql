-- Open sockets end with their login, whoever ends it (this project, the mall's back office, plain
-- SQL): triggers NOTIFY the chat servers, which LISTEN (chat_server/revocation.py) and close the
-- affected sockets with 4001 on every node. Payloads carry ids only, never token text.
--
-- * `session_changed` "user|kefu:<session id>:<expiry, unix seconds; 0 when the row is gone>":
--   a buyer's or kefu's session was logged out (expiry moved to now), extended, or deleted.
--   Sockets resting on that session close when the expiry passes (at once for a logout).
-- * `user_revoked` "<user id>": a buyer was disabled or deleted.
-- * `shop_revoked` "<shop id>": a shop was frozen or deleted; its kefus' sessions go, and every
--   socket of that shop (its kefus', and buyers' opened to talk to it) closes.
-- * `kefu_revoked` "<kefu id>" (sql/0001): now also when the kefu row itself is disabled or
--   deleted by any writer, not only through the back-office API; its sessions go too.

CREATE FUNCTION notify_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    role text := CASE WHEN TG_TABLE_NAME = 'session' THEN 'user' ELSE 'kefu' END;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('session_changed', role || ':' || OLD.id || ':0');
    ELSE
        PERFORM pg_notify('session_changed',
                          role || ':' || NEW.id || ':' || extract(epoch FROM NEW.expire_time)::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER session_expiry_changed AFTER UPDATE OF expire_time ON session
    FOR EACH ROW WHEN (OLD.expire_time IS DISTINCT FROM NEW.expire_time) EXECUTE FUNCTION notify_session_changed();
CREATE TRIGGER session_deleted AFTER DELETE ON session
    FOR EACH ROW EXECUTE FUNCTION notify_session_changed();
CREATE TRIGGER kefu_session_expiry_changed AFTER UPDATE OF expire_time ON kefu_session
    FOR EACH ROW WHEN (OLD.expire_time IS DISTINCT FROM NEW.expire_time) EXECUTE FUNCTION notify_session_changed();
CREATE TRIGGER kefu_session_deleted AFTER DELETE ON kefu_session
    FOR EACH ROW EXECUTE FUNCTION notify_session_changed();

CREATE FUNCTION notify_user_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('user_revoked', OLD.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER user_revoked AFTER UPDATE OF disable, del ON "user"
    FOR EACH ROW WHEN (NEW.disable <> 0 OR NEW.del <> 0) EXECUTE FUNCTION notify_user_revoked();
CREATE TRIGGER user_deleted AFTER DELETE ON "user"
    FOR EACH ROW EXECUTE FUNCTION notify_user_revoked();

CREATE FUNCTION revoke_shop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- notified first: the sockets then say why (the shop), not just that the session went
    PERFORM pg_notify('shop_revoked', OLD.id::text);
    DELETE FROM kefu_session WHERE shop_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER shop_revoked AFTER UPDATE OF is_freeze, del ON shop
    FOR EACH ROW WHEN (NEW.is_freeze <> 0 OR NEW.del <> 0) EXECUTE FUNCTION revoke_shop();
CREATE TRIGGER shop_deleted AFTER DELETE ON shop
    FOR EACH ROW EXECUTE FUNCTION revoke_shop();

CREATE FUNCTION revoke_kefu() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kefu_revoked', OLD.id::text);
    DELETE FROM kefu_session WHERE kefu_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER kefu_revoked AFTER UPDATE OF disable, del ON kefu
    FOR EACH ROW WHEN (NEW.disable <> 0 OR NEW.del <> 0) EXECUTE FUNCTION revoke_kefu();
CREATE TRIGGER kefu_deleted AFTER DELETE ON kefu
    FOR EACH ROW EXECUTE FUNCTION revoke_kefu();
