DROP TABLE IF EXISTS endpoint_verifications;

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

-- jsonb cannot hold a \u0000 escape: going back drops those (an escaped
-- backslash is matched whole, so only real escapes go).
ALTER TABLE connectors ALTER COLUMN config DROP DEFAULT;
ALTER TABLE connectors ALTER COLUMN config TYPE jsonb
    USING regexp_replace(convert_from(config, 'UTF8'), '(\\\\)|\\u0000', '\1', 'g')::jsonb;
ALTER TABLE connectors ALTER COLUMN config SET DEFAULT '{}';
ALTER TABLE connectors ALTER COLUMN filter TYPE jsonb
    USING regexp_replace(convert_from(filter, 'UTF8'), '(\\\\)|\\u0000', '\1', 'g')::jsonb;
ALTER TABLE endpoints ALTER COLUMN filter TYPE jsonb
    USING regexp_replace(convert_from(filter, 'UTF8'), '(\\\\)|\\u0000', '\1', 'g')::jsonb;
ALTER TABLE endpoints ALTER COLUMN config TYPE jsonb
    USING regexp_replace(convert_from(config, 'UTF8'), '(\\\\)|\\u0000', '\1', 'g')::jsonb;
ALTER TABLE event_type_versions ALTER COLUMN schema TYPE jsonb
    USING regexp_replace(convert_from(schema, 'UTF8'), '(\\\\)|\\u0000', '\1', 'g')::jsonb;
