DROP TABLE group_gaps;
DROP TABLE retention_purges;
ALTER TABLE event_types DROP COLUMN retention_keep, DROP COLUMN retention_max_count;
