-- Finish the purges still pending, then delete logs with their group again.
DELETE FROM group_log WHERE group_id IN (SELECT group_id FROM group_log_purges);
DROP TABLE group_log_purges;

CREATE OR REPLACE FUNCTION herald_drop_group_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM group_log WHERE group_id = OLD.id;
    RETURN NULL;
END
$$;
