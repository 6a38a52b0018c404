-- One rule decides who receives an event (internal/catalog/receivers.go);
-- this migration stores what that rule and replays need.

-- A test send is addressed to one endpoint and must never be routed to
-- others (by a replay, say). addressed_to names that endpoint; NULL for
-- events routed by subscription.
ALTER TABLE events ADD COLUMN addressed_to uuid;
-- Test sends stored before this column existed carry an unforgeable mark:
-- source /herald/test with the Herald id as CloudEvents id (a producer
-- cannot know the id Herald assigns). Their one delivery names the
-- endpoint. (One pass over both tables, once.)
UPDATE events e SET addressed_to = d.endpoint_id
FROM deliveries d
WHERE e.source = '/herald/test' AND e.ce_id = e.id::text
    AND d.event_id = e.id AND d.created_at = e.received_at;

-- Replays page through the log by seq, the order events were accepted in
-- (UUIDv7 ids of one millisecond are in random order), so replays to an
-- ordered endpoint keep each key's order.
ALTER TABLE replays ADD COLUMN cursor_seq bigint NOT NULL DEFAULT 0;
UPDATE replays r SET cursor_seq = e.seq
FROM events e
WHERE r.status = 'running' AND e.id = r.cursor_id;
ALTER TABLE replays DROP COLUMN cursor_id;
-- scanned_at is when the cursor reached the end of the range; the replay
-- is then running until none of its deliveries is pending, and ends done
-- (all delivered) or failed (some exhausted their attempts). delivered,
-- failed and pending count its deliveries as last seen.
ALTER TABLE replays ADD COLUMN scanned_at timestamptz;
ALTER TABLE replays ADD COLUMN delivered bigint NOT NULL DEFAULT 0;
ALTER TABLE replays ADD COLUMN failed bigint NOT NULL DEFAULT 0;
ALTER TABLE replays ADD COLUMN pending bigint NOT NULL DEFAULT 0;

-- replay_id links a delivery to the replay that made it. Ingest never sets
-- it, and the partial index holds replayed deliveries only.
ALTER TABLE deliveries ADD COLUMN replay_id uuid;
CREATE INDEX deliveries_replay_idx ON deliveries (replay_id) WHERE replay_id IS NOT NULL;
