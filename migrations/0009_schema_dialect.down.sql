ALTER TABLE event_type_versions
    DROP COLUMN IF EXISTS schema_draft,
    DROP COLUMN IF EXISTS format_assertion;
