-- Thin events, the Integration API and files (issue 4).
--
-- A thin event type's webhooks carry a notification only; the full payload
-- is read through the Integration API with an integration credential, and
-- is kept for a while (thin_payloads) before it is scrubbed for good.

-- event_type_thin marks an event type as thin: fields lists the JSON paths
-- kept from data in the notification; keep_for and after_first_read bound
-- how long the full payload stays readable (from receipt, and from its first
-- successful read). No row: the type is delivered in full.
CREATE TABLE event_type_thin (
    type_name        text PRIMARY KEY REFERENCES event_types (name) ON DELETE CASCADE,
    fields           text[] NOT NULL DEFAULT '{}',
    keep_for         interval NOT NULL DEFAULT '720 hours',
    after_first_read interval NOT NULL DEFAULT '120 hours'
);
CREATE TRIGGER event_type_thin_config_version AFTER INSERT OR UPDATE OR DELETE ON event_type_thin
    FOR EACH STATEMENT EXECUTE FUNCTION herald_bump_config_version();

-- integrations are the key and secret pairs a tenant issues to one
-- consuming platform (one per deployment) to read events through the
-- Integration API. Only the secret's hash is kept.
CREATE TABLE integrations (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL,
    key          text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL,
    -- types holds the event type names or patterns the credential may read.
    types        text[] NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrations_tenant_idx ON integrations (tenant_id);

-- integration_access_log records every Integration API request made with a
-- known integration key, successful or not (the audit trail).
CREATE TABLE integration_access_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id uuid NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    tenant_id      uuid NOT NULL,
    at             timestamptz NOT NULL,
    remote_addr    text NOT NULL DEFAULT '',
    method         text NOT NULL DEFAULT '',
    path           text NOT NULL DEFAULT '',
    event_id       uuid,
    file_id        uuid,
    status         integer NOT NULL,
    outcome        text NOT NULL
);
CREATE INDEX integration_access_log_idx ON integration_access_log (integration_id, id DESC);
CREATE INDEX integration_access_log_at_idx ON integration_access_log (at);

-- thin_payloads tracks the retention of each thin event's full payload:
-- expires_at starts at receipt + keep_for and moves to at most the first
-- successful read + after_first_read. expired_at is set when the payload
-- (and its files) has been scrubbed.
CREATE TABLE thin_payloads (
    event_id         uuid PRIMARY KEY,
    received_at      timestamptz NOT NULL,
    tenant_id        uuid NOT NULL,
    type             text NOT NULL,
    after_first_read interval NOT NULL,
    expires_at       timestamptz NOT NULL,
    first_read_at    timestamptz,
    expired_at       timestamptz
);
CREATE INDEX thin_payloads_due_idx ON thin_payloads (expires_at) WHERE expired_at IS NULL;

-- files are producers' uploads, kept in Herald's file store (local disk by
-- default) and attached to at most one event by its "attachments"
-- extension. Unattached uploads expire at expires_at; attached ones with
-- their event's payload.
CREATE TABLE files (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id         uuid,
    name              text NOT NULL DEFAULT '',
    content_type      text NOT NULL,
    size              bigint NOT NULL,
    sha256            bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    event_id          uuid,
    event_received_at timestamptz,
    attached_at       timestamptz
);
CREATE INDEX files_event_idx ON files (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX files_unattached_idx ON files (expires_at) WHERE event_id IS NULL;
CREATE INDEX files_attached_idx ON files (event_received_at) WHERE event_id IS NOT NULL;

-- herald_events_noted runs once per statement inserting events (ingest's
-- group commit, test sends, operational events): it starts the retention
-- clock of thin events and attaches the files named by an event's
-- "attachments" extension (comma-separated file ids of the producer's
-- tenant, not yet attached; ingest has checked them). Doing it here keeps
-- ingest's write path a single statement.
CREATE FUNCTION herald_events_noted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r   record;
    ids text;
BEGIN
    INSERT INTO thin_payloads (event_id, received_at, tenant_id, type, after_first_read, expires_at)
    SELECT n.id, n.received_at, n.tenant_id, n.type, t.after_first_read, n.received_at + t.keep_for
    FROM new_events n JOIN event_type_thin t ON t.type_name = n.type
    ON CONFLICT DO NOTHING;

    -- Only bodies mentioning the attribute are parsed; the top-level key
    -- alone counts (a member of data by that name does not). A body the
    -- database cannot parse (ingest stores valid JSON, but an odd escape
    -- must never fail a whole group commit) attaches nothing.
    FOR r IN SELECT n.id, n.received_at, n.tenant_id, n.body FROM new_events n
             WHERE position('"attachments"'::bytea IN n.body) > 0 LOOP
        BEGIN
            ids := convert_from(r.body, 'UTF8')::json ->> 'attachments';
            UPDATE files f SET event_id = r.id, event_received_at = r.received_at, attached_at = now()
            FROM unnest(string_to_array(ids, ',')) AS x(file_id)
            WHERE btrim(x.file_id) ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
              AND f.id = btrim(x.file_id)::uuid AND f.tenant_id = r.tenant_id AND f.event_id IS NULL;
        EXCEPTION WHEN others THEN
            RAISE WARNING 'herald: files of event % not attached: %', r.id, SQLERRM;
        END;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_noted AFTER INSERT ON events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION herald_events_noted();
