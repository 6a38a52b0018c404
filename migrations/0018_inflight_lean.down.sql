DROP TRIGGER group_cursors_drop_inflight ON group_cursors;
DROP FUNCTION herald_drop_group_inflight();
DELETE FROM group_inflight f WHERE NOT EXISTS (
    SELECT 1 FROM group_cursors c WHERE c.group_id = f.group_id AND c.partition = f.partition);
ALTER TABLE group_inflight ADD CONSTRAINT group_inflight_group_id_partition_fkey
    FOREIGN KEY (group_id, partition) REFERENCES group_cursors (group_id, partition) ON DELETE CASCADE;
