-- Files nobody can see any more are deleted: the sweep looks for the
-- blobs that no message and no recent upload refers to. Only messages
-- with an attachment are read for that, through this partial index.
CREATE INDEX messages_with_attachment ON messages (id) WHERE attachment IS NOT NULL;
-- A deleted message's file goes with its text.
UPDATE messages SET attachment = NULL WHERE deleted != 0;
