-- Unread and mention counts that cost the same however long a room's
-- history is (see the SQLite migration 0010_unread.sql, which this
-- mirrors).
CREATE INDEX messages_room_created ON messages (room_id, created_seq, user_id, deleted);

ALTER TABLE mentions ADD COLUMN room_id     BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mentions ADD COLUMN created_seq BIGINT NOT NULL DEFAULT 0;
UPDATE mentions m SET room_id = msg.room_id, created_seq = msg.created_seq
FROM messages msg WHERE msg.id = m.message_id;
CREATE INDEX mentions_user_room ON mentions (user_id, room_id, created_seq);

CREATE INDEX messages_room_ts ON messages (room_id, ts);
INSERT INTO read_marks (user_id, room_id, seq)
SELECT u.id, r.id, last.created_seq
FROM users u CROSS JOIN rooms r
CROSS JOIN LATERAL (
    SELECT m.created_seq FROM messages m
    WHERE m.room_id = r.id AND m.ts <= u.created_at
    ORDER BY m.ts DESC LIMIT 1) last
ON CONFLICT DO NOTHING;
DROP INDEX messages_room_ts;
