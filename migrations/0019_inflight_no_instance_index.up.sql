-- An instance's in-flight rows always lie in the partitions it holds (a
-- partition that moves releases its rows), so a fetch counts them through
-- the primary key, and a leaving instance's rows are found through its
-- group's. The index on instance_id cost an entry per event handed out,
-- a quarter of the write-ahead log a fetch writes for its in-flight rows.
DROP INDEX group_inflight_instance_idx;
