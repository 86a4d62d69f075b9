-- Bots: identities of their own (a device no browser holds) that post
-- through the bot API with a key; only the key's hash is kept. `secret`
-- signs what is sent to the bot's webhook. Messages remember that their
-- author was a bot, as they remember its name and colour.
ALTER TABLE users ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
CREATE TABLE bots (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id),
    key_hash   TEXT    NOT NULL UNIQUE,
    secret     TEXT    NOT NULL,
    webhook    TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
