DROP FUNCTION IF EXISTS herald_ordered_release(uuid, text, bigint);
DROP TABLE IF EXISTS ordered_queue;
DROP TABLE IF EXISTS ordered_keys;
ALTER TABLE endpoints DROP COLUMN IF EXISTS ordered;
