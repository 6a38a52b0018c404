-- Webhook dead letters join the dead-event store (docs/design/pull-consumers.md,
-- section 6): a webhook delivery that ends failed is kept in dead_events
-- with its endpoint and delivery, so one store lists and redrives the dead
-- events of both channels.

-- channel tells a consumer's report on a pull delivery ('pull') from a
-- webhook delivery that failed for good ('webhook'). A webhook dead event
-- belongs to whoever may see its endpoint: the endpoint's client
-- (client_id, NULL for an endpoint without one) and the tenant's admins.
ALTER TABLE dead_events
    ADD COLUMN channel text NOT NULL DEFAULT 'pull' CHECK (channel IN ('pull', 'webhook')),
    -- No foreign key: like its deliveries, a deleted endpoint's dead
    -- letters stay (for the tenant's admins) until retention; a redrive of
    -- one is not found.
    ADD COLUMN endpoint_id uuid,
    ADD COLUMN delivery_id uuid,
    ALTER COLUMN client_id DROP NOT NULL,
    ADD CONSTRAINT dead_events_channel_fields CHECK (
        (channel = 'pull' AND client_id IS NOT NULL AND endpoint_id IS NULL AND delivery_id IS NULL)
        OR (channel = 'webhook' AND delivery_id IS NOT NULL AND group_id IS NULL));

-- One dead event per delivery: a retry takes it out, the next failure puts
-- it back.
CREATE UNIQUE INDEX dead_events_delivery_idx ON dead_events (delivery_id) WHERE delivery_id IS NOT NULL;
-- A tenant admin lists the tenant's webhook dead events.
CREATE INDEX dead_events_tenant_idx ON dead_events (tenant_id, created_at) WHERE channel = 'webhook';
