-- A new login replaces the session of the same (user, client) or (kefu, client) with a new token:
-- the sockets opened with the old token are told (close 4004) by the chat servers, which LISTEN on
-- `session_replaced`. A trigger, so that every login path (ours or the mall's) is covered.
-- Payload: "user:<user_id>:<client>:<tag>" or "kefu:<kefu_id>:<client>:<tag>", where <tag> is the
-- first 12 hex digits of md5(new token): the token itself never travels.
CREATE FUNCTION notify_session_replaced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'session' THEN
        PERFORM pg_notify('session_replaced',
                          'user:' || NEW.user_id || ':' || NEW.client || ':' || left(md5(NEW.token), 12));
    ELSE
        PERFORM pg_notify('session_replaced',
                          'kefu:' || NEW.kefu_id || ':' || NEW.client || ':' || left(md5(NEW.token), 12));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER session_token_replaced AFTER UPDATE OF token ON session
    FOR EACH ROW WHEN (OLD.token IS DISTINCT FROM NEW.token) EXECUTE FUNCTION notify_session_replaced();
CREATE TRIGGER kefu_session_token_replaced AFTER UPDATE OF token ON kefu_session
    FOR EACH ROW WHEN (OLD.token IS DISTINCT FROM NEW.token) EXECUTE FUNCTION notify_session_replaced();
