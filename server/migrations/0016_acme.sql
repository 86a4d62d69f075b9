-- Certificates from an ACME directory (Let's Encrypt), the account that
-- orders them, and which node is ordering now: kept with the chat's data,
-- so a restart orders nothing and every node of a shared chat serves the
-- same certificate while only one of them orders it.
CREATE TABLE acme (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE acme_lease (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT    NOT NULL,
    until  INTEGER NOT NULL
);
