DROP TRIGGER IF EXISTS events_noted ON events;
DROP FUNCTION IF EXISTS herald_events_noted();
DROP TABLE IF EXISTS files;
DROP TABLE IF EXISTS thin_payloads;
DROP TABLE IF EXISTS integration_access_log;
DROP TABLE IF EXISTS integrations;
DROP TABLE IF EXISTS event_type_thin;
