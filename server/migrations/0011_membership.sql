-- Rooms are open (anyone with a name reads them), private (members only)
-- or direct (a conversation among a set of people, members only, one room
-- per set). Every room there was is open: nothing changes for it.
ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'open';
-- A direct conversation's people, their ids sorted ("3,7,12").
ALTER TABLE rooms ADD COLUMN dm_key TEXT;
CREATE UNIQUE INDEX rooms_dm_key ON rooms (dm_key) WHERE dm_key IS NOT NULL;

-- Who may read a private or direct room.
CREATE TABLE room_members (
    room_id  INTEGER NOT NULL REFERENCES rooms(id),
    user_id  INTEGER NOT NULL REFERENCES users(id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX room_members_user ON room_members (user_id, room_id);

-- Rooms someone took out of their own list, without leaving them.
CREATE TABLE hidden_rooms (
    user_id INTEGER NOT NULL REFERENCES users(id),
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    PRIMARY KEY (user_id, room_id)
) WITHOUT ROWID;

-- Who takes no direct messages from whom.
CREATE TABLE dm_blocks (
    user_id    INTEGER NOT NULL REFERENCES users(id),
    blocked_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;

-- Which rooms a stored file (or its thumbnail) was sent in: a file of a
-- closed room's message is served to its members alone.
CREATE TABLE message_files (
    blob       TEXT    NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    room_id    INTEGER NOT NULL,
    PRIMARY KEY (blob, message_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO message_files (blob, message_id, room_id)
SELECT json_extract(attachment, '$.id'), id, room_id FROM messages
WHERE attachment IS NOT NULL AND json_extract(attachment, '$.id') IS NOT NULL;
INSERT OR IGNORE INTO message_files (blob, message_id, room_id)
SELECT json_extract(attachment, '$.image.thumb'), id, room_id FROM messages
WHERE attachment IS NOT NULL AND json_extract(attachment, '$.image.thumb') IS NOT NULL;
