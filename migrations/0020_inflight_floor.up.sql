-- inflight_floor: no event of the partition in flight has a lower
-- sequence. A fetch raises it to the oldest event in flight (or past the
-- read position when none is), and its scans of the partition's in-flight
-- rows start there instead of at the index entries of every row
-- acknowledged since the last vacuum. A redrive lowers it to the event it
-- puts back, a seek resets it; 0 is always safe.
ALTER TABLE group_cursors ADD COLUMN inflight_floor bigint NOT NULL DEFAULT 0;
