-- Herald's core schema: tenants, credentials, the schema registry, webhook
-- endpoints, the event log and the delivery history.
--
-- The event log and the delivery history are range-partitioned by day so that
-- retention is a cheap DROP of a whole partition rather than a DELETE that
-- bloats the table. Rows of one event (the event, its deliveries and their
-- attempts) share one timestamp, the event's receive time truncated to the
-- millisecond, which is also embedded in the UUIDv7 ids: a lookup by id
-- derives the partition from the id itself.

-- config_version changes whenever anything that routing or authentication
-- reads changes, so every node can tell cheaply whether its in-memory catalog
-- is current.
CREATE TABLE herald_state (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    config_version bigint NOT NULL DEFAULT 1
);
INSERT INTO herald_state DEFAULT VALUES;

CREATE FUNCTION herald_bump_config_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE herald_state SET config_version = config_version + 1;
    RETURN NULL;
END
$$;

CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    platform   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clients (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL,
    key         text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    roles       text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_tenant_idx ON clients (tenant_id);

CREATE TABLE event_types (
    name        text PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    description text NOT NULL DEFAULT '',
    public      boolean NOT NULL DEFAULT false,
    producers   uuid[] NOT NULL DEFAULT '{}',
    consumers   uuid[] NOT NULL DEFAULT '{}',
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every schema an event type ever had stays readable, so consumers can decode
-- events produced under an older contract.
CREATE TABLE event_type_versions (
    type_name  text NOT NULL REFERENCES event_types (name) ON DELETE CASCADE,
    version    integer NOT NULL,
    schema     jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (type_name, version)
);

CREATE TABLE endpoints (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id       uuid REFERENCES clients (id) ON DELETE SET NULL,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    types           text[] NOT NULL,
    -- pending: waiting for the receiver's consent (the CloudEvents webhook
    -- handshake); deliveries queue up meanwhile.
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'disabled')),
    -- verify_token_enc is the one-time callback token offered in the
    -- handshake (encrypted); verified_at/verified_by record the consent.
    verify_token_enc bytea,
    -- rate_limit caps deliveries to the endpoint (per second, all nodes
    -- together); NULL is unlimited.
    rate_limit      integer CHECK (rate_limit > 0),
    verified_at     timestamptz,
    verified_by     text NOT NULL DEFAULT '',
    disabled_reason text NOT NULL DEFAULT '',
    -- secret_enc is the current signing secret (whsec_ for v1, whsk_ for
    -- v1a), encrypted; old_secrets_enc holds rotated-out secrets with their
    -- expiry, still used to sign during their grace period.
    secret_enc      bytea NOT NULL,
    old_secrets_enc bytea,
    signing         text NOT NULL DEFAULT 'v1' CHECK (signing IN ('v1', 'v1a')),
    -- public_key is the whpk_ key receivers verify v1a signatures with.
    public_key      text NOT NULL DEFAULT '',
    -- config is the endpoint's own JSON object, sent with every delivery so
    -- the receiver can route by it.
    config          jsonb,
    -- filter narrows the subscription beyond type patterns (internal/filter).
    filter          jsonb,
    -- headers_enc holds static request headers (often an API key the
    -- partner chose), encrypted like the secret.
    headers_enc     bytea,
    -- auth_type says how Herald authenticates to the endpoint (none, jwt,
    -- oauth2); auth_enc holds the encrypted settings (client secret...).
    auth_type       text NOT NULL DEFAULT 'none' CHECK (auth_type IN ('none', 'jwt', 'oauth2')),
    auth_enc        bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_tenant_idx ON endpoints (tenant_id);

-- endpoint_health tracks failing endpoints for auto-disable. It is apart
-- from endpoints so that recording deliveries does not touch the rows whose
-- changes every node's routing follows.
CREATE TABLE endpoint_health (
    endpoint_id     uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    -- failing_since is the first failed attempt since the last success.
    failing_since   timestamptz,
    last_success_at timestamptz,
    -- The circuit breaker: after enough consecutive failures the circuit
    -- opens until open_until; then one probe (probe_at) is let through.
    consecutive_failures integer NOT NULL DEFAULT 0,
    open_until      timestamptz,
    probe_at        timestamptz
);

-- replays resend stored events of a time range (and optionally some types)
-- to one endpoint, as a background job that records its progress here.
CREATE TABLE replays (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    types       text[] NOT NULL DEFAULT '{}',
    from_time   timestamptz NOT NULL,
    to_time     timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    -- cursor is the id (UUIDv7, so time-ordered) of the last event examined.
    cursor_id   uuid,
    scanned     bigint NOT NULL DEFAULT 0,
    queued      bigint NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- endpoint_rate schedules deliveries to rate-limited endpoints (GCRA): tat
-- is the theoretical arrival time of the next delivery; each delivery
-- reserves the slot at max(tat, now) and moves tat on by 1/rate.
CREATE TABLE endpoint_rate (
    endpoint_id uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    tat         timestamptz NOT NULL
);

-- The keys Herald signs outbound JWTs with, published at
-- /.well-known/jwks.json. The private key is encrypted at rest.
CREATE TABLE signing_keys (
    id          text PRIMARY KEY,
    private_enc bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- not_after ends a rotated-out key's publication; NULL for the current one.
    not_after   timestamptz
);

CREATE TRIGGER tenants_config_version AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION herald_bump_config_version();
CREATE TRIGGER clients_config_version AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION herald_bump_config_version();
CREATE TRIGGER event_types_config_version AFTER INSERT OR UPDATE OR DELETE ON event_types
    FOR EACH STATEMENT EXECUTE FUNCTION herald_bump_config_version();
CREATE TRIGGER endpoints_config_version AFTER INSERT OR UPDATE OR DELETE ON endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION herald_bump_config_version();

-- One sequence orders the whole log; pull consumers and replay read by it.
CREATE SEQUENCE event_seq AS bigint;

-- event_keys makes ingest idempotent on (producer tenant, source, id). It is
-- not partitioned because the uniqueness must hold across days; it is narrow
-- and pruned by retention with the log. (No index on received_at: every
-- index costs each ingested event, and retention can afford a daily scan.)
CREATE TABLE event_keys (
    tenant_id   uuid NOT NULL,
    source      text NOT NULL,
    ce_id       text NOT NULL,
    event_id    uuid NOT NULL,
    received_at timestamptz NOT NULL,
    seq         bigint NOT NULL DEFAULT nextval('event_seq'),
    PRIMARY KEY (tenant_id, source, ce_id)
);

CREATE TABLE events (
    id            uuid NOT NULL,
    received_at   timestamptz NOT NULL,
    seq           bigint NOT NULL,
    tenant_id     uuid NOT NULL,
    producer_id   uuid NOT NULL,
    type          text NOT NULL,
    source        text NOT NULL,
    ce_id         text NOT NULL,
    subject       text NOT NULL DEFAULT '',
    partition_key text NOT NULL DEFAULT '',
    type_version  integer NOT NULL DEFAULT 0,
    -- body is the event exactly as delivered: CloudEvents structured JSON.
    body          bytea NOT NULL,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
-- Pull consumers and replay read the log in seq order. Indexes are kept to
-- what queries need: each one is paid for by every ingested event.
CREATE INDEX events_seq_idx ON events (seq);

CREATE TABLE deliveries (
    id               uuid NOT NULL,
    -- created_at equals the event's received_at, so an event and its
    -- deliveries live in the same day and expire together.
    created_at       timestamptz NOT NULL,
    event_id         uuid NOT NULL,
    endpoint_id      uuid NOT NULL,
    tenant_id        uuid NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- retry_base is the attempt count when the current retry cycle began; a
    -- manual retry starts a fresh cycle of the schedule.
    retry_base       integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text NOT NULL DEFAULT '',
    -- slot_at is the time reserved for the next attempt by the endpoint's
    -- rate limit (NULL when none is reserved).
    slot_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX deliveries_endpoint_idx ON deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE delivery_attempts (
    delivery_id         uuid NOT NULL,
    delivery_created_at timestamptz NOT NULL,
    attempt             integer NOT NULL,
    attempted_at        timestamptz NOT NULL,
    status_code         integer,
    latency_us          bigint NOT NULL,
    error               text NOT NULL DEFAULT '',
    response_body       bytea,
    PRIMARY KEY (delivery_id, delivery_created_at, attempt)
) PARTITION BY RANGE (delivery_created_at);

-- Rows whose day has no partition yet land here instead of failing the
-- insert; herald_ensure_partitions keeps days ahead so this stays empty.
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE TABLE deliveries_default PARTITION OF deliveries DEFAULT;
CREATE TABLE delivery_attempts_default PARTITION OF delivery_attempts DEFAULT;

-- herald_ensure_partitions creates the daily partitions (UTC days) of the
-- partitioned tables from first_day for the given number of days. It is
-- idempotent; the maintenance job calls it daily.
CREATE FUNCTION herald_ensure_partitions(first_day date, days integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    d date;
BEGIN
    FOREACH t IN ARRAY ARRAY['events', 'deliveries', 'delivery_attempts'] LOOP
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

-- herald_drop_partitions drops the daily partitions of days before
-- first_kept (retention: a whole day goes at once, with no dead rows left
-- behind) and returns how many tables it dropped.
CREATE FUNCTION herald_drop_partitions(first_kept date) RETURNS integer
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
        WHERE p.relname IN ('events', 'deliveries', 'delivery_attempts')
          AND c.relname ~ '_[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < first_kept
    LOOP
        EXECUTE format('DROP TABLE %I', r.name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

SELECT herald_ensure_partitions((now() AT TIME ZONE 'UTC')::date - 1, 9);

-- River's job table churns fast (every delivery inserts and completes a row);
-- vacuum it eagerly so dead tuples don't slow fetches (river#59).
ALTER TABLE river_job SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0);
