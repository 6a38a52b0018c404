-- Ordered delivery: an endpoint with ordered = true receives the events of
-- one partition key (the CloudEvents partitionkey extension) one at a time,
-- in the order they were stored.
--
-- A key with deliveries waiting has a cursor row in ordered_keys and its
-- deliveries in ordered_queue. Ingest appends to the queue under the cursor
-- row's lock, so positions follow commit order even when several
-- transactions store events of one key at once. The cursor row exists
-- exactly while one drain job (River) owns the key: ingest inserts that job
-- when its append creates the row, and the drain job deletes the row, under
-- the same lock, once the queue is empty. So there is never more than one
-- sender per key, and never a queued delivery without one.
ALTER TABLE endpoints ADD COLUMN ordered boolean NOT NULL DEFAULT false;

CREATE TABLE ordered_keys (
    endpoint_id   uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    partition_key text NOT NULL,
    -- last_pos is the position given to the newest delivery of the key.
    last_pos      bigint NOT NULL,
    -- created says the latest append created the row (and so must start a
    -- drain job); appends to an existing row set it false.
    created       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (endpoint_id, partition_key)
);

-- ordered_queue holds each key's deliveries not yet settled; the drain job
-- sends the lowest position first and deletes rows once settled. (No
-- foreign keys: the drain job is the only reader, and it drops rows whose
-- delivery or endpoint is gone.)
CREATE TABLE ordered_queue (
    endpoint_id   uuid NOT NULL,
    partition_key text NOT NULL,
    pos           bigint NOT NULL,
    delivery_id   uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (endpoint_id, partition_key, pos)
);

-- Both tables churn with every ordered delivery: vacuum them eagerly.
ALTER TABLE ordered_keys SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE ordered_queue SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0);

-- herald_ordered_release ends a drain of one key: it drops the queue
-- entries up to settled, then, holding the key's cursor lock, deletes the
-- cursor if nothing else is queued. It returns false when deliveries arrived
-- meanwhile (the drain must go on). Each statement of a volatile function
-- takes a fresh snapshot, so the check after the lock sees every append
-- that held the lock before.
CREATE FUNCTION herald_ordered_release(ep uuid, pkey text, settled bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ordered_queue WHERE endpoint_id = ep AND partition_key = pkey AND pos <= settled;
    PERFORM 1 FROM ordered_keys WHERE endpoint_id = ep AND partition_key = pkey FOR UPDATE;
    IF NOT FOUND THEN
        RETURN true;
    END IF;
    IF EXISTS (SELECT 1 FROM ordered_queue WHERE endpoint_id = ep AND partition_key = pkey) THEN
        RETURN false;
    END IF;
    DELETE FROM ordered_keys WHERE endpoint_id = ep AND partition_key = pkey;
    RETURN true;
END
$$;
