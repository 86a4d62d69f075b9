-- Who may use the chat. A device is a member once it has a row here: in
-- an open chat every named device gets one, so switching to invite-only
-- keeps everyone who was already in. Roles and blocks belong to the
-- device identity (a transfer link carries them to another browser).
CREATE TABLE members (
    device_id  TEXT    PRIMARY KEY,
    role       TEXT    NOT NULL DEFAULT 'member'
               CHECK (role IN ('owner', 'moderator', 'member')),
    joined_at  INTEGER NOT NULL,
    invite_id  INTEGER,
    blocked_at INTEGER
);
INSERT INTO members (device_id, joined_at) SELECT device_id, created_at FROM users;

-- Chat-wide settings the owner changes: `access` (open | invite), `name`.
CREATE TABLE chat_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Invite links. Only a hash of the token is kept: the database alone
-- does not let anyone in.
CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    max_uses    INTEGER NOT NULL,
    uses        INTEGER NOT NULL DEFAULT 0,
    revoked_at  INTEGER
);

-- One-time owner links (printed in the log, never served), hashed too.
CREATE TABLE owner_tokens (
    token_hash TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Every moderation action: who did what to whom, and when.
CREATE TABLE moderation_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    target_user INTEGER,
    detail      TEXT    NOT NULL DEFAULT ''
);
