DROP INDEX dead_events_tenant_idx;
DROP INDEX dead_events_delivery_idx;
DELETE FROM dead_events WHERE channel = 'webhook';
ALTER TABLE dead_events
    DROP CONSTRAINT dead_events_channel_fields,
    ALTER COLUMN client_id SET NOT NULL,
    DROP COLUMN delivery_id,
    DROP COLUMN endpoint_id,
    DROP COLUMN channel;
