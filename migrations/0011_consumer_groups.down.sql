-- Put the partition functions back as 0001 made them (without group_log).
CREATE OR REPLACE FUNCTION herald_ensure_partitions(first_day date, days integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    d date;
BEGIN
    FOREACH t IN ARRAY ARRAY['events', 'deliveries', 'delivery_attempts'] LOOP
        FOR i IN 0 .. days - 1 LOOP
            d := first_day + i;
            IF to_regclass(format('%I', t || '_' || to_char(d, 'YYYYMMDD'))) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    t || '_' || to_char(d, 'YYYYMMDD'), t,
                    (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- herald_drop_partitions drops the daily partitions of days before
-- first_kept (retention: a whole day goes at once, with no dead rows left
-- behind) and returns how many tables it dropped.
CREATE OR REPLACE FUNCTION herald_drop_partitions(first_kept date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN
        SELECT c.relname AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('events', 'deliveries', 'delivery_attempts')
          AND c.relname ~ '_[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < first_kept
    LOOP
        EXECUTE format('DROP TABLE %I', r.name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

DROP TABLE IF EXISTS group_log;
DROP TABLE IF EXISTS group_cursors;
DROP TABLE IF EXISTS consumer_groups;
DROP FUNCTION IF EXISTS herald_drop_group_log();

-- Hand the numbering back to event_seq where log_head left it.
SELECT setval('event_seq', seq) FROM log_head WHERE seq > 0;
DROP TABLE IF EXISTS log_head;
