-- Pull consumption (docs/design/pull-consumers.md, sections 3 and 4): the
-- instances that read a consumer group, their partition leases, and the
-- events delivered to them and not yet acknowledged.

-- group_instances: one reader of a group (a long poll client or a
-- WebSocket). An instance not seen for the instance TTL expires; its
-- partitions and unacked events go to the others.
CREATE TABLE group_instances (
    id         uuid PRIMARY KEY,
    group_id   uuid NOT NULL REFERENCES consumer_groups (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('ws', 'poll')),
    node       text NOT NULL DEFAULT '',
    last_seen  timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX group_instances_group_idx ON group_instances (group_id);
CREATE INDEX group_instances_last_seen_idx ON group_instances (last_seen);

-- A partition's lease: owner reads it, nobody else. It changes only in a
-- rebalance under the group's advisory lock. read_upto is the read
-- position: the last sequence handed out (acked_upto <= read_upto; what
-- lies between is acknowledged unless it is in flight).
ALTER TABLE group_cursors
    ADD COLUMN owner uuid REFERENCES group_instances (id) ON DELETE SET NULL,
    ADD COLUMN read_upto bigint;
UPDATE group_cursors SET read_upto = acked_upto;
ALTER TABLE group_cursors ALTER COLUMN read_upto SET NOT NULL;

-- group_inflight: an event handed out and not yet acknowledged. It is due
-- again at deliver_after (ack wait expired, nack delay, released by an
-- instance that left) to whoever holds its partition then.
CREATE TABLE group_inflight (
    group_id      uuid NOT NULL,
    partition     smallint NOT NULL,
    seq           bigint NOT NULL,
    event_id      uuid NOT NULL,
    received_at   timestamptz NOT NULL,
    instance_id   uuid REFERENCES group_instances (id) ON DELETE SET NULL,
    deliver_after timestamptz NOT NULL,
    deliveries    integer NOT NULL DEFAULT 1,
    PRIMARY KEY (group_id, partition, seq),
    FOREIGN KEY (group_id, partition) REFERENCES group_cursors (group_id, partition) ON DELETE CASCADE
);
CREATE INDEX group_inflight_instance_idx ON group_inflight (instance_id);

-- dead_events: the consumer's dead-event store. A pull consumer reports an
-- event it cannot process (it is acknowledged for the group and kept
-- here); webhook deliveries that exhausted their attempts are to join it.
CREATE TABLE dead_events (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id   uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    -- A dead event outlives its group: the store is the consumer's.
    group_id    uuid REFERENCES consumer_groups (id) ON DELETE SET NULL,
    partition   smallint,
    event_id    uuid NOT NULL,
    received_at timestamptz NOT NULL,
    seq         bigint NOT NULL,
    type        text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_events_client_idx ON dead_events (client_id, created_at);
