-- mtls_enc holds the client certificate chain and private key Herald
-- presents to the endpoint in the TLS handshake (mutual TLS), encrypted
-- like the other endpoint secrets; NULL when the endpoint uses none.
ALTER TABLE endpoints ADD COLUMN mtls_enc bytea;

-- exhausted_at is set when Herald announced the delivery as exhausted
-- (herald.delivery.exhausted) and cleared when it announces its recovery
-- (herald.delivery.recovered), so a recovery is announced exactly once and
-- only for deliveries that were dead-lettered. Nullable without a default:
-- adding it rewrites no partition.
ALTER TABLE deliveries ADD COLUMN exhausted_at timestamptz;
