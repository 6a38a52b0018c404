-- log_head hands out the sequence numbers of the event log. A plain
-- sequence (event_seq) let two committers take ranges in one order and
-- commit in the other, so a reader that had seen the later range and moved
-- its cursor past it never saw the earlier one. Ingest takes its range with
-- UPDATE ... RETURNING on this one row instead: the row lock is held until
-- COMMIT, so commit order is sequence order and readers of seq > cursor
-- always see a prefix of the log (docs/design/pull-consumers.md, section 1).
-- The row is global, not per tenant: a consumer group reads the events of
-- every tenant whose types it consumes, in one order.
CREATE TABLE log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- seq is the last sequence number handed out.
    seq       bigint NOT NULL
);
INSERT INTO log_head (seq)
SELECT GREATEST(
    (SELECT COALESCE(max(seq), 0) FROM event_keys),
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM event_seq));
