-- Input that must be accepted, and input that must be refused (issue 9).

-- JSON documents clients give Herald are kept as the bytes Herald checked
-- (one JSON value, UTF-8, no member named twice) instead of as jsonb, which
-- cannot hold the string escape \u0000 (a schema whose const is
-- "hello\u0000there" is valid JSON, and was answered 500) and rewrites
-- what it stores. Herald compares schemas as JSON itself.
ALTER TABLE event_type_versions ALTER COLUMN schema TYPE bytea USING convert_to(schema::text, 'UTF8');
ALTER TABLE endpoints ALTER COLUMN config TYPE bytea USING convert_to(config::text, 'UTF8');
ALTER TABLE endpoints ALTER COLUMN filter TYPE bytea USING convert_to(filter::text, 'UTF8');
ALTER TABLE connectors ALTER COLUMN filter TYPE bytea USING convert_to(filter::text, 'UTF8');
ALTER TABLE connectors ALTER COLUMN config DROP DEFAULT;
ALTER TABLE connectors ALTER COLUMN config TYPE bytea USING convert_to(config::text, 'UTF8');
ALTER TABLE connectors ALTER COLUMN config SET DEFAULT convert_to('{}', 'UTF8');

-- herald_events_noted read an event's attachments by parsing its body as
-- json, which fails on a \u0000 escape anywhere in it (in data, say), so
-- such an event silently lost its attachments. The escapes are dropped
-- first: the regular expression matches escaped backslashes as a whole, so
-- only real \u0000 escapes go, and the attachments attribute never holds
-- one (ingest refuses control characters in attributes).
CREATE OR REPLACE FUNCTION herald_events_noted() RETURNS trigger
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
    -- database cannot parse still attaches nothing rather than failing the
    -- whole group commit.
    FOR r IN SELECT n.id, n.received_at, n.tenant_id, n.body FROM new_events n
             WHERE position('"attachments"'::bytea IN n.body) > 0 LOOP
        BEGIN
            ids := regexp_replace(convert_from(r.body, 'UTF8'), '(\\\\)|\\u0000', '\1', 'g')::json ->> 'attachments';
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

-- endpoint_verifications records the latest verification handshake
-- (OPTIONS) of an endpoint, so its owner can see why it is still pending:
-- when it was tried, what the receiver answered (or why nothing arrived)
-- and when the next try is due. Apart from endpoints, whose writes every
-- node's routing follows.
CREATE TABLE endpoint_verifications (
    endpoint_id     uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    attempts        integer NOT NULL,
    last_attempt_at timestamptz NOT NULL,
    -- status_code is NULL when no response arrived.
    status_code     integer,
    -- error says why there is no consent ('' once granted).
    error           text NOT NULL DEFAULT '',
    -- next_attempt_at is NULL when no further handshake is scheduled.
    next_attempt_at timestamptz
);
