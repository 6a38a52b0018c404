CREATE INDEX group_inflight_instance_idx ON group_inflight (instance_id);
