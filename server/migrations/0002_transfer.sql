-- One-time links that hand a device's identity to another browser (or to
-- the installed app, which does not share cookies with Safari). A token is
-- deleted when used, so it works once.
CREATE TABLE transfer_tokens (
    token      TEXT    PRIMARY KEY,
    device_id  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
