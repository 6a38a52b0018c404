UPDATE group_inflight f SET instance_id = NULL
WHERE instance_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM group_instances i WHERE i.id = f.instance_id);
ALTER TABLE group_inflight ADD CONSTRAINT group_inflight_instance_id_fkey
    FOREIGN KEY (instance_id) REFERENCES group_instances (id) ON DELETE SET NULL;
ALTER TABLE group_cursors ADD COLUMN acked_upto bigint NOT NULL DEFAULT 0;
UPDATE group_cursors c SET acked_upto = COALESCE(
    (SELECT min(f.seq) - 1 FROM group_inflight f WHERE f.group_id = c.group_id AND f.partition = c.partition),
    c.read_upto);
ALTER TABLE group_cursors ALTER COLUMN acked_upto DROP DEFAULT;
DROP INDEX IF EXISTS group_inflight_ce_id_idx;
ALTER TABLE group_inflight DROP COLUMN IF EXISTS ce_id;
