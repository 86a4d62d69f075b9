-- Users are devices that picked a name. `id` is the public user id; the
-- device id is the secret cookie value and never leaves the server.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    color      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- AUTOINCREMENT: ids are never reused, so they are a safe catch-up cursor.
-- The name and colour are stored as they were when the message was sent.
CREATE TABLE messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER NOT NULL REFERENCES users(id),
    client_id TEXT    NOT NULL,
    user_name TEXT    NOT NULL,
    color     TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    UNIQUE (user_id, client_id)
);
