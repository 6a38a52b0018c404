-- What GET /v1/stats reads, bounded by tenant and time through indexes, so
-- a tenant's overview costs what that tenant did in the window, not what
-- every tenant did (docs/operations.md, "Traffic, failures and backlog").

-- An attempt records whose it was: the tenant and endpoint of its delivery
-- (both fixed for the delivery's life). Attempts are partitioned by their
-- delivery's day, not their own time, so without these columns counting a
-- tenant's attempts of the last hour meant joining every delivery of the
-- retry schedule's 28 hours. No foreign keys: like deliveries, attempts of
-- a deleted endpoint stay until retention.
ALTER TABLE delivery_attempts ADD COLUMN tenant_id uuid, ADD COLUMN endpoint_id uuid;

-- The last day's attempts (the longest window the stats show) get theirs
-- from their deliveries, so the overview is right from the upgrade on;
-- older attempts keep NULL and are never counted, as are the attempts that
-- nodes still running an older binary record during a rolling upgrade.
UPDATE delivery_attempts a SET tenant_id = d.tenant_id, endpoint_id = d.endpoint_id
FROM deliveries d
WHERE d.id = a.delivery_id AND d.created_at = a.delivery_created_at
    AND a.attempted_at >= now() - interval '24 hours';

-- The stats count a tenant's attempts per bucket of time, succeeded (2xx)
-- or failed, and per endpoint, from this index alone.
CREATE INDEX delivery_attempts_tenant_idx ON delivery_attempts (tenant_id, attempted_at)
    INCLUDE (endpoint_id, status_code);

-- Events in, per tenant and time. Test sends (addressed to one endpoint)
-- are not producers' traffic and stay out of the index.
CREATE INDEX events_tenant_idx ON events (tenant_id, received_at) WHERE addressed_to IS NULL;

-- The backlog is counted, endpoint by endpoint, from the index of the
-- deliveries that have not succeeded (migration 0022), which the delivery
-- list filtered by status reads too.
