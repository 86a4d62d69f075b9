-- Unread and mention counts that cost the same however long a room's
-- history is: each counts forward from the reader's read mark through an
-- index, never scanning the room.

-- A room's messages by when they were written, with what the count
-- filters on, so counting past a mark reads the index alone.
CREATE INDEX messages_room_created ON messages (room_id, created_seq, user_id, deleted);

-- A mention knows its room and place (mentions of deleted messages are
-- deleted with them).
ALTER TABLE mentions ADD COLUMN room_id     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mentions ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;
UPDATE mentions SET
    room_id     = (SELECT room_id FROM messages WHERE id = mentions.message_id),
    created_seq = (SELECT created_seq FROM messages WHERE id = mentions.message_id);
CREATE INDEX mentions_user_room ON mentions (user_id, room_id, created_seq);

-- Without a mark, what came after a person first chose a name counted as
-- unread, found by each message's time: a scan. Now every identity gets a
-- mark in every room where history came before it was named (at the last
-- message then), when named; without one, nothing in the room is read.
CREATE INDEX messages_room_ts ON messages (room_id, ts);
INSERT OR IGNORE INTO read_marks (user_id, room_id, seq)
SELECT u.id, r.id, (
    SELECT m.created_seq FROM messages m
    WHERE m.room_id = r.id AND m.ts <= u.created_at
    ORDER BY m.ts DESC LIMIT 1)
FROM users u, rooms r
WHERE EXISTS (SELECT 1 FROM messages m WHERE m.room_id = r.id AND m.ts <= u.created_at);
DROP INDEX messages_room_ts;
