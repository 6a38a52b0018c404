ALTER TABLE group_cursors DROP COLUMN inflight_floor;
