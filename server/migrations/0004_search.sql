-- Full-text search over the current text of messages. An external-content
-- index: the text lives once, in `messages`; triggers keep the index in
-- step, so an edit is found by its new text and a deleted message (its
-- text emptied) is not found at all. `remove_diacritics 2` lets "cafe"
-- find "café"; the Symbol categories make emoji searchable tokens.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'messages',
    content_rowid = 'id',
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co So Sk'"
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
