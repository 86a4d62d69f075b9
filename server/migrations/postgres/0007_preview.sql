-- A card for a message's first link (JSON of `LinkPreview`), added by the
-- server after the message was sent; `preview_off` once its author took
-- the card away, so none comes back.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS preview TEXT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS preview_off BOOLEAN NOT NULL DEFAULT FALSE;
