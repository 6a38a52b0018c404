ALTER TABLE tenants DROP COLUMN brand_name, DROP COLUMN brand_logo_url, DROP COLUMN brand_color;
DROP INDEX deliveries_unsettled_idx;
DROP TABLE web_session_ends;
