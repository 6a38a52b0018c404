DROP TABLE IF EXISTS connector_runs;
DROP TABLE IF EXISTS connectors;
