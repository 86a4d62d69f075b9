-- Photos and files, in the shared mode: every node serves every file, so
-- the bytes live in the database rather than one node's directory.
CREATE TABLE blob_data (
    id    TEXT  PRIMARY KEY,
    bytes BYTEA NOT NULL
);
