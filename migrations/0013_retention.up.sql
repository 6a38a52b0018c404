-- Retention per event type (issue 11; docs/design/pull-consumers.md,
-- section 6). A type may keep its events longer or shorter than
-- HERALD_RETENTION (retention_keep, NULL: the default) and at most a number
-- of them per tenant (retention_max_count, NULL: no limit). Day partitions
-- are dropped when the longest keep has passed them; events of types kept
-- for less are deleted in batches before that.
ALTER TABLE event_types
    ADD COLUMN retention_keep      interval CHECK (retention_keep > interval '0'),
    ADD COLUMN retention_max_count bigint CHECK (retention_max_count > 0);

-- retention_purges: for each keep in force (the default's or a type's),
-- the events of its types received before purged_before are deleted
-- already, so each maintenance run scans only the days that expired since
-- the last one. Any change of a type's retention clears the table (the
-- next run scans again from the oldest kept day).
CREATE TABLE retention_purges (
    keep          interval PRIMARY KEY,
    purged_before timestamptz NOT NULL
);

-- group_gaps: log rows a group had not read yet that retention dropped
-- with their day (first_missing is the oldest of them, per partition). The
-- fetch of the instance holding the partition tells it once (a gap notice)
-- and deletes the row. Kept apart from group_cursors so that dropping a day
-- never waits for the cursor locks fetches hold.
CREATE TABLE group_gaps (
    group_id      uuid NOT NULL,
    partition     smallint NOT NULL,
    first_missing bigint NOT NULL,
    PRIMARY KEY (group_id, partition),
    FOREIGN KEY (group_id, partition) REFERENCES group_cursors (group_id, partition) ON DELETE CASCADE
);
