ALTER TABLE endpoints DROP COLUMN IF EXISTS content_mode;
