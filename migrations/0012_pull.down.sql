DROP TABLE dead_events;
DROP TABLE group_inflight;
ALTER TABLE group_cursors DROP COLUMN owner, DROP COLUMN read_upto;
DROP TABLE group_instances;
