-- A deleted consumer group's log is removed in the background (queue's
-- herald.group_purge job, in batches) instead of inside the DELETE: a group
-- millions of rows behind would otherwise hold the delete, the log head
-- lock it takes and every ingest behind it for as long as the rows take.
-- The group (and so its routing, cursors and in-flight rows) goes at once;
-- its orphaned log rows are never read, because every read of the log
-- starts from a group's cursors.
CREATE TABLE group_log_purges (
    group_id   uuid PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

-- However a group is deleted (by name, or with its client or tenant), its
-- log is noted for the purge rather than deleted here.
CREATE OR REPLACE FUNCTION herald_drop_group_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO group_log_purges (group_id) VALUES (OLD.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
