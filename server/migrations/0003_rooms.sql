-- Rooms, and a per-room log: every change to a room's history (a message,
-- an edit, a delete, a reaction) takes the room's next seq. A message row
-- keeps the seq of its latest change, so catch-up after a seq is "every
-- message changed since", in seq order, with its current state; a deleted
-- message's text is gone, not hidden.
CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    -- Names are unique regardless of case.
    name_key   TEXT    NOT NULL UNIQUE,
    archived   INTEGER NOT NULL DEFAULT 0,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL
);

-- The seed's one room; its messages keep their ids as seqs.
INSERT INTO rooms (id, slug, name, name_key, last_seq, created_at)
VALUES (1, 'general', 'General', 'general', COALESCE((SELECT MAX(id) FROM messages), 0), 0);

ALTER TABLE messages ADD COLUMN room_id     INTEGER NOT NULL DEFAULT 1 REFERENCES rooms(id);
ALTER TABLE messages ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN seq         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at   INTEGER;
ALTER TABLE messages ADD COLUMN deleted     INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET created_seq = id, seq = id;
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
CREATE INDEX messages_room_id ON messages (room_id, id);

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    emoji      TEXT    NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) WITHOUT ROWID;

CREATE TABLE mentions (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;
CREATE INDEX mentions_user ON mentions (user_id, message_id);

-- How far each identity has read each room.
CREATE TABLE read_marks (
    user_id INTEGER NOT NULL REFERENCES users(id),
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id)
) WITHOUT ROWID;
