-- log_head hands out the sequence numbers of the event log. A plain
-- sequence (event_seq) let two committers take ranges in one order and
-- commit in the other, so a reader that had seen the later range and moved
-- its cursor past it never saw the earlier one. Ingest takes its range with
-- UPDATE ... RETURNING on this one row instead: the row lock is held until
-- COMMIT, so commit order is sequence order and readers of seq > cursor
-- always see a prefix of the log (docs/design/pull-consumers.md, section 1).
-- The row is global, not per tenant: a consumer group reads the events of
-- every tenant whose types it consumes, in one order.
CREATE TABLE log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- seq is the last sequence number handed out.
    seq       bigint NOT NULL
);
INSERT INTO log_head (seq)
SELECT GREATEST(
    (SELECT COALESCE(max(seq), 0) FROM event_keys),
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM event_seq));

-- routes_version is the config version a consumer group change left here.
-- Creating or deleting a group locks log_head (waiting for the commits in
-- flight, holding back the next ones) and stamps the new config version on
-- it; the ingest statement reads it back from the row it locks, which it
-- sees as committed even when the rest of its snapshot is older. So an
-- event numbered after a group's creation was routed with that group, and
-- the group's backfill (events up to its created_seq) and its live log meet
-- without a gap.
ALTER TABLE log_head ADD COLUMN routes_version bigint NOT NULL DEFAULT 0;

-- A consumer group is a durable cursor of one consumer client over the
-- events it may consume, narrowed by type patterns and a filter (routed
-- like an endpoint, see internal/catalog/receivers.go).
CREATE TABLE consumer_groups (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id   uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name        text NOT NULL,
    types       text[] NOT NULL,
    filter      bytea,
    ack_wait_ms bigint NOT NULL,
    -- created_seq is the log head when the group was created: ingest routes
    -- every later event to it; earlier ones come from a backfill.
    created_seq bigint NOT NULL,
    -- log_from: the group's log holds every event it receives with seq >
    -- log_from, except the backfill range still to write.
    log_from    bigint NOT NULL,
    -- The backfill writes the events of (backfill_cursor, backfill_to]
    -- (backfill_to NULL: none under way).
    backfill_cursor bigint,
    backfill_to     bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, name)
);
CREATE TRIGGER consumer_groups_config_version AFTER INSERT OR UPDATE OF types, filter OR DELETE ON consumer_groups
    FOR EACH STATEMENT EXECUTE FUNCTION herald_bump_config_version();

-- group_cursors: per (group, partition), everything up to acked_upto is
-- consumed (a seek moves it).
CREATE TABLE group_cursors (
    group_id   uuid NOT NULL REFERENCES consumer_groups (id) ON DELETE CASCADE,
    partition  smallint NOT NULL CHECK (partition BETWEEN 0 AND 11),
    acked_upto bigint NOT NULL,
    PRIMARY KEY (group_id, partition)
);

-- group_log: one narrow row per (event, group) it reaches, written by the
-- ingest statement (and backfills). A fetch is a range scan of the primary
-- key, whatever the size of the log; rows go with the events' days.
CREATE TABLE group_log (
    group_id    uuid NOT NULL,
    partition   smallint NOT NULL,
    seq         bigint NOT NULL,
    event_id    uuid NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (group_id, partition, seq, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE group_log_default PARTITION OF group_log DEFAULT;

-- A group's log goes with the group, however it is deleted (by name, or
-- with its client or tenant).
CREATE FUNCTION herald_drop_group_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM group_log WHERE group_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER consumer_groups_drop_log AFTER DELETE ON consumer_groups
    FOR EACH ROW EXECUTE FUNCTION herald_drop_group_log();

-- Every day the events have, the group log has too, so backfilled rows of
-- old events land in their day (never in the default partition, which
-- would block creating that day later).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT right(c.relname, 8) AS day
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'events' AND c.relname ~ '_[0-9]{8}$'
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF group_log FOR VALUES FROM (%L) TO (%L)',
            'group_log_' || r.day,
            (to_date(r.day, 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC'),
            ((to_date(r.day, 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC'));
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION herald_ensure_partitions(first_day date, days integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    d date;
BEGIN
    FOREACH t IN ARRAY ARRAY['events', 'deliveries', 'delivery_attempts', 'group_log'] LOOP
        FOR i IN 0 .. days - 1 LOOP
            d := first_day + i;
            IF to_regclass(format('%I', t || '_' || to_char(d, 'YYYYMMDD'))) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    t || '_' || to_char(d, 'YYYYMMDD'), t,
                    (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            END IF;
        END LOOP;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION herald_drop_partitions(first_kept date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN
        SELECT c.relname AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('events', 'deliveries', 'delivery_attempts', 'group_log')
          AND c.relname ~ '_[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < first_kept
    LOOP
        EXECUTE format('DROP TABLE %I', r.name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
