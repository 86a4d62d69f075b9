-- Certificates from an ACME directory (Let's Encrypt), the account that
-- orders them, and which node is ordering now: every node serves the
-- same certificate, and only the lease holder orders it.
CREATE TABLE IF NOT EXISTS acme (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS acme_lease (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT    NOT NULL,
    until  BIGINT  NOT NULL
);
