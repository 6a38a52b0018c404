-- Each schema version records how it is read: the JSON Schema draft that
-- applies where the document has no "$schema" (chosen at registration from
-- "$schema", the type's schema_draft or the keywords), and whether "format"
-- is an assertion (always in drafts 6 and 7; in 2019-09 and 2020-12 only
-- when the type asks for it). Together with the document they are the
-- version's contract: changing either makes a new version.
ALTER TABLE event_type_versions
    ADD COLUMN schema_draft text,
    ADD COLUMN format_assertion boolean;

-- Versions stored before this were compiled as their "$schema" said, else as
-- 2020-12, always asserting "format". Record exactly that, so they keep their
-- meaning. Only documents with a "format" member somewhere need the
-- assertion; the others are recorded without it, as a new version of the
-- same document would be (so Herald's own types are not bumped at start).
UPDATE event_type_versions v SET
    schema_draft = d.draft,
    format_assertion = d.draft IN ('draft-06', 'draft-07') OR coalesce(jsonb_path_exists(d.doc, 'lax $.**.format'), true)
FROM (
    SELECT type_name, version, doc,
        CASE regexp_replace(doc ->> '$schema', '^https?://|#$', '', 'g')
            WHEN 'json-schema.org/draft-06/schema' THEN 'draft-06'
            WHEN 'json-schema.org/draft-07/schema' THEN 'draft-07'
            WHEN 'json-schema.org/draft/2019-09/schema' THEN '2019-09'
            ELSE '2020-12'
        END AS draft
    FROM (
        -- Schemas are stored as bytes (0008). One holding a "\u0000"
        -- escape cannot be read as jsonb; it is recorded as 2020-12 with
        -- "format" asserted, as it was compiled before.
        SELECT type_name, version,
            CASE WHEN strpos(convert_from(schema, 'UTF8'), '\u0000') = 0 THEN convert_from(schema, 'UTF8')::jsonb END AS doc
        FROM event_type_versions
    ) x
) d
WHERE d.type_name = v.type_name AND d.version = v.version;

ALTER TABLE event_type_versions
    ALTER COLUMN schema_draft SET NOT NULL,
    ALTER COLUMN format_assertion SET NOT NULL,
    ADD CONSTRAINT event_type_versions_schema_draft_check
        CHECK (schema_draft IN ('draft-06', 'draft-07', '2019-09', '2020-12'));
