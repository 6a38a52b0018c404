DROP INDEX events_tenant_idx;
DROP INDEX delivery_attempts_tenant_idx;
ALTER TABLE delivery_attempts DROP COLUMN endpoint_id, DROP COLUMN tenant_id;
