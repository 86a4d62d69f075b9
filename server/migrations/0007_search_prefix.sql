-- Search as you type makes the last word a prefix query. Without a prefix
-- index, a short, common prefix ("mi") merged the lists of every word it
-- starts, over 100 ms at a million messages; FTS5 prefix indexes for 2, 3
-- and 4 characters answer those from one list. The table is made again
-- with them and rebuilt from `messages` (the triggers refer to it by name
-- and keep working).
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'messages',
    content_rowid = 'id',
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co So Sk'",
    prefix = '2 3 4'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
