-- A message may answer another of its room. Messages are never removed
-- (a delete clears the text), so the parent stays to be quoted.
ALTER TABLE messages ADD COLUMN reply_to BIGINT REFERENCES messages(id);
