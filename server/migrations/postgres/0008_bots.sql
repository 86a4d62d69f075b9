-- Bots: identities of their own (a device no browser holds) that post
-- through the bot API with a key; only the key's hash is kept. `secret`
-- signs what is sent to the bot's webhook. Messages remember that their
-- author was a bot, as they remember its name and colour.
ALTER TABLE users ADD COLUMN IF NOT EXISTS bot BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS bot BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE IF NOT EXISTS bots (
    user_id    BIGINT PRIMARY KEY REFERENCES users(id),
    key_hash   TEXT   NOT NULL UNIQUE,
    secret     TEXT   NOT NULL,
    webhook    TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
