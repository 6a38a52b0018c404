-- A webhook replay may start from a sequence instead of a time (issue 11:
-- "webhook replays may also start from a sequence or a time"). from_seq
-- is that first sequence (its cursor starts just below it); such a replay
-- has no lower time bound (from_time is the epoch).
ALTER TABLE replays ADD COLUMN from_seq bigint CHECK (from_seq > 0);
