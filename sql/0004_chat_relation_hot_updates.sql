-- Every message updates its conversation row (last_seq, preview, unread, update_time). With
-- update_time in an index each of those updates had to add index entries; indexed on kefu_id
-- alone, and with free space left in each page, they become HOT updates (no index work).
-- A kefu's list is sorted in memory after the kefu_id lookup: a kefu owns hundreds of rows, not millions.
DROP INDEX chat_relation_kefu_list;
CREATE INDEX chat_relation_kefu ON chat_relation (kefu_id);
ALTER TABLE chat_relation SET (fillfactor = 70);
