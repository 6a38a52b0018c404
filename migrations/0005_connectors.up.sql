-- Hosted connectors (issue 4): functions Herald runs for consumers that
-- cannot take webhooks. A connector is tenant-owned like an endpoint and
-- routed like one (type patterns, optional filter, its client's consume
-- rights), so its writes bump the config version that routing follows.
CREATE TABLE connectors (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- client_id is the consumer the connector receives for: its consume
    -- rights decide which events reach it (NULL once deleted: none do).
    client_id   uuid REFERENCES clients (id) ON DELETE SET NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (kind IN ('function', 'http', 'email')),
    types       text[] NOT NULL,
    filter      jsonb,
    -- code is the function's JavaScript (or the HTTP forward's transform).
    code        text NOT NULL DEFAULT '',
    -- config is the plain configuration; secrets_enc the secret part
    -- (passwords, tokens) as one encrypted JSON object, merged into config
    -- when the connector runs and never shown again.
    config      jsonb NOT NULL DEFAULT '{}',
    secrets_enc bytea,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE TRIGGER connectors_config_version AFTER INSERT OR UPDATE OR DELETE ON connectors
    FOR EACH STATEMENT EXECUTE FUNCTION herald_bump_config_version();

-- connector_runs is one row per (event, connector), written by ingest in
-- the same transaction as the event and its River job, like deliveries. Each
-- attempt appends to history (bounded). No foreign keys: ingest must not
-- fail on a connector deleted meanwhile (the worker reports it instead), and
-- retention deletes by created_at.
CREATE TABLE connector_runs (
    id                uuid PRIMARY KEY,
    connector_id      uuid NOT NULL,
    tenant_id         uuid NOT NULL,
    event_id          uuid NOT NULL,
    event_received_at timestamptz NOT NULL,
    event_type        text NOT NULL,
    -- input is a one-line summary of the event the run works on.
    input             text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    -- retry_base is the attempt count when the current retry cycle began.
    retry_base        integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    last_attempt_at   timestamptz,
    last_error        text NOT NULL DEFAULT '',
    -- history holds the last 20 attempts: outcome, error, logs, requests,
    -- duration.
    history           jsonb NOT NULL DEFAULT '[]',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connector_runs_connector_idx ON connector_runs (connector_id, created_at DESC, id DESC);
CREATE INDEX connector_runs_created_idx ON connector_runs (created_at);
