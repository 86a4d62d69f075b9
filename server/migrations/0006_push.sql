-- Web Push subscriptions: one per browser push endpoint, owned by the
-- device that made it. The keys are the browser's (RFC 8291), base64url.
CREATE TABLE push_subscriptions (
    endpoint   TEXT    PRIMARY KEY,
    device_id  TEXT    NOT NULL,
    p256dh     TEXT    NOT NULL,
    auth       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id);

-- What a device wants pushed. Room 0 holds its default; another room's
-- row overrides the default there.
CREATE TABLE push_modes (
    device_id TEXT    NOT NULL,
    room_id   INTEGER NOT NULL,
    mode      TEXT    NOT NULL CHECK (mode IN ('all', 'mentions', 'off')),
    PRIMARY KEY (device_id, room_id)
);
