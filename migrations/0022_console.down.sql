DROP INDEX deliveries_unsettled_idx;
DROP TABLE web_session_ends;
