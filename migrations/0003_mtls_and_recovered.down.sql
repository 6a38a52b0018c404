ALTER TABLE deliveries DROP COLUMN IF EXISTS exhausted_at;
ALTER TABLE endpoints DROP COLUMN IF EXISTS mtls_enc;
