-- Photos and files. `blobs` describes what is stored under
-- data/blobs/ (content-addressed); `uploads` are what a device uploaded,
-- to be attached to one of its messages; a message keeps its attachment
-- as JSON (the protocol's `Attachment`).
CREATE TABLE blobs (
    id         TEXT    PRIMARY KEY,
    mime       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    -- Served inline (a re-encoded image) rather than as a download.
    inline     INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE uploads (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    attachment TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

ALTER TABLE messages ADD COLUMN attachment TEXT;
