-- History partitioned by day, exactly-once by Kafka coordinates, set unions of
-- pre-aggregated groups.
--
-- Until 004 every event was deduplicated by a text primary key on its event id
-- and unioned by SQL that grouped the just-inserted rows: most of a batch's
-- time went to that index and to the grouping. Now:
--
--  * A message is identified by (topic, partition, offset). Each merged batch
--    records, per run, the offset ranges it covered (merged_ranges), under an
--    advisory lock per partition, in the transaction that writes the rows. A
--    redelivered message lies in a recorded range and is skipped, whichever
--    consumer group (or replay) delivers it again. The producers are
--    idempotent, so a retry never puts a second copy of an event on the topic.
--  * The history (event_history) is append-only, partitioned by UTC day of
--    observed_at, with BRIN on observed_at: a COPY appends to it. Whole days
--    are dropped when store.history_retention says so.
--  * The merger aggregates a batch per distinct behavior in C and COPYs one
--    row per group into the session's temp table merge_groups;
--    armorsmith_merge_groups() unions them into the merged sets.
--
-- The behavior_history view keeps the columns (and the jsonb behavior) of the
-- table it replaces, so documented queries keep working.

CREATE TABLE run_keys (
    run_id         serial PRIMARY KEY,
    policy_key     text   NOT NULL,
    generation     bigint NOT NULL,
    events_merged  bigint NOT NULL DEFAULT 0,
    UNIQUE (policy_key, generation)
);

CREATE TABLE event_history (
    observed_at      timestamptz NOT NULL,
    run_id           integer     NOT NULL,
    node             text        NOT NULL,
    kind             text        NOT NULL,
    source           text        NOT NULL,
    pid              bigint      NOT NULL DEFAULT 0,
    comm             text        NOT NULL DEFAULT '',
    container_id     text        NOT NULL DEFAULT '',
    cgroup_id        bigint      NOT NULL DEFAULT 0, -- the uint64's bits
    kafka_partition  integer,                        -- NULL for rows from before 005
    kafka_offset     bigint,
    event_id         text        NOT NULL,
    behavior         text        NOT NULL            -- JSON; the view casts it
) PARTITION BY RANGE (observed_at);
CREATE INDEX event_history_time ON event_history USING brin (observed_at);

-- Creates the partition of one UTC day unless it exists. Concurrent callers
-- serialise on an advisory lock instead of racing on the catalog.
CREATE FUNCTION armorsmith_history_partition(d date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'event_history_' || to_char(d, 'YYYYMMDD');
BEGIN
    PERFORM pg_advisory_xact_lock(7365826911);
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF event_history FOR VALUES FROM (%L) TO (%L)',
                   part, d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
    RETURN true;
END
$$;

-- The history of 001-004, moved over with run ids.
INSERT INTO run_keys (policy_key, generation, events_merged)
    SELECT policy_key, generation, count(*) FROM behavior_history GROUP BY 1, 2;
INSERT INTO run_keys (policy_key, generation)
    SELECT policy_key, generation FROM modeling_runs ON CONFLICT DO NOTHING;
SELECT armorsmith_history_partition(d)
    FROM (SELECT DISTINCT (observed_at AT TIME ZONE 'UTC')::date AS d FROM behavior_history) s;
INSERT INTO event_history (observed_at, run_id, node, kind, source, pid, comm, container_id,
                           cgroup_id, event_id, behavior)
    SELECT h.observed_at, k.run_id, h.node, h.kind, h.source, h.pid, h.comm, h.container_id,
           (CASE WHEN h.cgroup_id >= 9223372036854775808
                 THEN h.cgroup_id - 18446744073709551616 ELSE h.cgroup_id END)::bigint,
           h.event_id, h.behavior::text
    FROM behavior_history h JOIN run_keys k USING (policy_key, generation);
DROP TABLE behavior_history;
DROP FUNCTION armorsmith_merge_staged();

CREATE VIEW behavior_history AS
    SELECT h.event_id, k.policy_key, k.generation, h.node, h.kind, h.source, h.observed_at,
           h.pid, h.comm, h.container_id,
           CASE WHEN h.cgroup_id < 0 THEN h.cgroup_id::numeric + 18446744073709551616
                ELSE h.cgroup_id::numeric END AS cgroup_id,
           h.behavior::jsonb AS behavior, h.kafka_partition, h.kafka_offset
    FROM event_history h JOIN run_keys k USING (run_id);

-- Offsets [first_offset, last_offset] of (topic, partition) whose messages of
-- the run are all merged. Adjacent and overlapping ranges are coalesced, so a
-- run has about one row per partition and stretch of batches it was in.
CREATE TABLE merged_ranges (
    run_id           integer NOT NULL,
    topic            text    NOT NULL,
    kafka_partition  integer NOT NULL,
    first_offset     bigint  NOT NULL,
    last_offset      bigint  NOT NULL,
    PRIMARY KEY (run_id, topic, kafka_partition, first_offset),
    CHECK (first_offset <= last_offset)
);

-- Takes the partitions' locks (in a fixed order, so two batches cannot
-- deadlock) and returns the recorded ranges that overlap what the caller is
-- about to merge: messages in them are merged already.
CREATE FUNCTION armorsmith_claimed_ranges(p_run integer[], p_topic text[], p_part integer[],
                                          p_first bigint[], p_last bigint[])
RETURNS TABLE (run_id integer, topic text, kafka_partition integer, first_offset bigint,
               last_offset bigint)
LANGUAGE plpgsql AS $$
DECLARE
    l record;
BEGIN
    FOR l IN SELECT DISTINCT hashtext(t) AS k1, p AS k2
             FROM unnest(p_topic, p_part) AS u(t, p) ORDER BY 1, 2 LOOP
        PERFORM pg_advisory_xact_lock(l.k1, l.k2);
    END LOOP;
    RETURN QUERY
        SELECT c.run_id, c.topic, c.kafka_partition, c.first_offset, c.last_offset
        FROM unnest(p_run, p_topic, p_part, p_first, p_last) AS q(run_id, topic, part, lo, hi)
        JOIN merged_ranges c ON c.run_id = q.run_id AND c.topic = q.topic
                            AND c.kafka_partition = q.part
                            AND c.first_offset <= q.hi AND c.last_offset >= q.lo;
END
$$;

-- Records merged ranges, folding each into the overlapping or adjacent ones.
CREATE FUNCTION armorsmith_record_ranges(p_run integer[], p_topic text[], p_part integer[],
                                         p_first bigint[], p_last bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lo bigint;
    hi bigint;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_run, 1), 0) LOOP
        WITH gone AS (
            DELETE FROM merged_ranges c
            WHERE c.run_id = p_run[i] AND c.topic = p_topic[i] AND c.kafka_partition = p_part[i]
              AND c.first_offset <= p_last[i] + 1 AND c.last_offset >= p_first[i] - 1
            RETURNING c.first_offset, c.last_offset)
        SELECT least(p_first[i], min(first_offset)), greatest(p_last[i], max(last_offset))
        INTO lo, hi FROM gone;
        INSERT INTO merged_ranges VALUES (p_run[i], p_topic[i], p_part[i], lo, hi);
    END LOOP;
END
$$;

-- Unions the groups in the session's merge_groups (one row per distinct
-- behavior of the batch, aggregated by the store layer: permissions already
-- a union, nodes sorted and distinct) into the merged sets. Columns a..e
-- carry each kind's key in the order of its table's primary key.
CREATE FUNCTION armorsmith_merge_groups() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO merged_syscalls AS m (policy_key, generation, name, first_seen, last_seen,
                                      hit_count, nodes)
    SELECT policy_key, generation, a, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'syscall'
    ON CONFLICT (policy_key, generation, name) DO UPDATE SET
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;

    INSERT INTO merged_executions AS m (policy_key, generation, path, first_seen, last_seen,
                                        hit_count, nodes)
    SELECT policy_key, generation, a, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'exec'
    ON CONFLICT (policy_key, generation, path) DO UPDATE SET
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;

    INSERT INTO merged_files AS m (policy_key, generation, path, owner, old_path, permissions,
                                   first_seen, last_seen, hit_count, nodes)
    SELECT policy_key, generation, a, owner, b, perms, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'file'
    ON CONFLICT (policy_key, generation, path, owner, old_path) DO UPDATE SET
        permissions = CASE WHEN m.permissions = excluded.permissions THEN m.permissions
                           ELSE armorsmith_perm_union(m.permissions, excluded.permissions) END,
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;

    INSERT INTO merged_capabilities AS m (policy_key, generation, name, first_seen, last_seen,
                                          hit_count, nodes)
    SELECT policy_key, generation, a, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'capability'
    ON CONFLICT (policy_key, generation, name) DO UPDATE SET
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;

    INSERT INTO merged_network AS m (policy_key, generation, family, sock_type, protocol,
                                     address, port, first_seen, last_seen, hit_count, nodes)
    SELECT policy_key, generation, a, b, c, d, port, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'network'
    ON CONFLICT (policy_key, generation, family, sock_type, protocol, address, port)
    DO UPDATE SET
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;

    INSERT INTO merged_ptrace AS m (policy_key, generation, peer, permissions, first_seen,
                                    last_seen, hit_count, nodes)
    SELECT policy_key, generation, a, b, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'ptrace'
    ON CONFLICT (policy_key, generation, peer, permissions) DO UPDATE SET
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;

    INSERT INTO merged_signals AS m (policy_key, generation, peer, signal, permissions,
                                     first_seen, last_seen, hit_count, nodes)
    SELECT policy_key, generation, a, b, c, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'signal'
    ON CONFLICT (policy_key, generation, peer, signal, permissions) DO UPDATE SET
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;

    INSERT INTO merged_mounts AS m (policy_key, generation, operation, path, source, fstype,
                                    flags, first_seen, last_seen, hit_count, nodes)
    SELECT policy_key, generation, a, b, c, d, e, first_seen, last_seen, hits, nodes
    FROM merge_groups WHERE kind = 'mount'
    ON CONFLICT (policy_key, generation, operation, path, source, fstype, flags) DO UPDATE SET
        first_seen = least(m.first_seen, excluded.first_seen),
        last_seen = greatest(m.last_seen, excluded.last_seen),
        hit_count = m.hit_count + excluded.hit_count,
        nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                     ELSE armorsmith_array_union(m.nodes, excluded.nodes) END;
END
$$;

-- Most merged rows are updated by every batch that sees their behavior
-- again; room on the page lets those updates stay HOT.
ALTER TABLE merged_syscalls SET (fillfactor = 80);
ALTER TABLE merged_executions SET (fillfactor = 80);
ALTER TABLE merged_files SET (fillfactor = 80);
ALTER TABLE merged_capabilities SET (fillfactor = 80);
ALTER TABLE merged_network SET (fillfactor = 80);
ALTER TABLE merged_ptrace SET (fillfactor = 80);
ALTER TABLE merged_signals SET (fillfactor = 80);
ALTER TABLE merged_mounts SET (fillfactor = 80);
