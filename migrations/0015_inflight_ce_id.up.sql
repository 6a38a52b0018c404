-- An ack names events by their CloudEvents id. Matching those ids against
-- a group's in-flight rows through events cost one primary-key probe of
-- events per row in flight (up to 1,000 per instance) on every ack; the id
-- kept with the row makes it one index lookup per acknowledged id. NULL:
-- the event was removed by retention before it was handed out (nothing to
-- acknowledge by id; the fetch skips it with a gap notice).
ALTER TABLE group_inflight ADD COLUMN ce_id text;

UPDATE group_inflight f SET ce_id = e.ce_id
FROM events e WHERE e.id = f.event_id AND e.received_at = f.received_at;

CREATE INDEX group_inflight_ce_id_idx ON group_inflight (group_id, ce_id);

-- A partition's acknowledged position is derived from its in-flight rows
-- (just below the oldest, or the read position when none is), so an ack
-- only deletes rows and takes no lock that fetches hold. The stored copy
-- goes.
ALTER TABLE group_cursors DROP COLUMN acked_upto;

-- Every statement that removes an instance releases its in-flight rows
-- itself (GroupInstanceDelete, under the group's lock), and a group's
-- instances and in-flight rows go with the group; the foreign key's check
-- on every row a fetch hands out bought nothing.
ALTER TABLE group_inflight DROP CONSTRAINT group_inflight_instance_id_fkey;
