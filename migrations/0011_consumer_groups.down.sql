-- Hand the numbering back to event_seq where log_head left it.
SELECT setval('event_seq', seq) FROM log_head WHERE seq > 0;
DROP TABLE IF EXISTS log_head;
