-- BRIN indexes on the days that are over, not on the day being written.
--
-- PostgreSQL 15 reads a BRIN index's metapage and range map for every row a
-- COPY inserts, once per index, even where the range is not summarized yet
-- (which the day being written mostly is: vacuum summarizes only whole
-- ranges). With the BRIN indexes of 005 and 006 on every partition, one
-- merger worker merged 321k-407k events/s; without them 463k-479k, in
-- rounds alternated on one store (bench/merge_throughput.sh 1000000 1).
-- So partitions are made without indexes, and the merger seals a day once
-- it is over: one BRIN index on (observed_at, run_id), built once and fully
-- summarized. A BRIN index answers a condition on either column. Rows of
-- the current day are found by scanning that day's partition.
--
-- Until it is sealed a partition is also left alone by autovacuum: it only
-- grows, and vacuuming and analyzing a day of tens of millions of rows
-- while it is written took CPU from the merge (on 2 vCPUs the rounds of the
-- benchmark split into ~310k and ~430k events/s). Anti-wraparound vacuum
-- still runs (PostgreSQL ignores the setting for it); sealing resets it.
DROP INDEX IF EXISTS event_history_run;
DROP INDEX IF EXISTS event_history_time;

CREATE OR REPLACE FUNCTION armorsmith_history_partition(d date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'event_history_' || to_char(d, 'YYYYMMDD');
BEGIN
    PERFORM pg_advisory_xact_lock(7365826911);
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF event_history FOR VALUES FROM (%L) TO (%L)'
                   ' WITH (autovacuum_enabled = false)',
                   part, d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
    RETURN true;
END
$$;

-- Indexes every partition whose day ends on or before p_before (a date,
-- UTC) and has no index yet; returns how many it indexed. Concurrent
-- callers serialise on the partition lock of armorsmith_history_partition.
CREATE FUNCTION armorsmith_seal_history(p_before date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part text;
    n integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7365826911);
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'event_history'::regclass
          AND c.relname ~ '^event_history_[0-9]{8}$'
          AND to_date(substr(c.relname, 15), 'YYYYMMDD') + 1 <= p_before
          AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid)
        ORDER BY 1
    LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING brin (observed_at, run_id int4_minmax_multi_ops)',
                       part || '_brin', part);
        EXECUTE format('ALTER TABLE %I RESET (autovacuum_enabled)', part);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

SELECT armorsmith_seal_history((now() AT TIME ZONE 'UTC')::date);
DO $$
DECLARE
    part text;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'event_history'::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid)
    LOOP
        EXECUTE format('ALTER TABLE %I SET (autovacuum_enabled = false)', part);
    END LOOP;
END
$$;
