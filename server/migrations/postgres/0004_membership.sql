-- Open, private and direct rooms, their members, hidden rooms and blocked
-- direct messages (see the SQLite migration 0011_membership.sql).
ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'open';
ALTER TABLE rooms ADD COLUMN dm_key TEXT;
CREATE UNIQUE INDEX rooms_dm_key ON rooms (dm_key) WHERE dm_key IS NOT NULL;

CREATE TABLE room_members (
    room_id  BIGINT NOT NULL REFERENCES rooms(id),
    user_id  BIGINT NOT NULL REFERENCES users(id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id, room_id);

CREATE TABLE hidden_rooms (
    user_id BIGINT NOT NULL REFERENCES users(id),
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    PRIMARY KEY (user_id, room_id)
);

CREATE TABLE dm_blocks (
    user_id    BIGINT NOT NULL REFERENCES users(id),
    blocked_id BIGINT NOT NULL REFERENCES users(id),
    PRIMARY KEY (user_id, blocked_id)
);

CREATE TABLE message_files (
    blob       TEXT   NOT NULL,
    message_id BIGINT NOT NULL REFERENCES messages(id),
    room_id    BIGINT NOT NULL,
    PRIMARY KEY (blob, message_id)
);
INSERT INTO message_files (blob, message_id, room_id)
SELECT attachment::json->>'id', id, room_id FROM messages
WHERE attachment IS NOT NULL AND attachment::json->>'id' IS NOT NULL
ON CONFLICT DO NOTHING;
INSERT INTO message_files (blob, message_id, room_id)
SELECT attachment::json->'image'->>'thumb', id, room_id FROM messages
WHERE attachment IS NOT NULL AND attachment::json->'image'->>'thumb' IS NOT NULL
ON CONFLICT DO NOTHING;
