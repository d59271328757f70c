-- Bulk merge: the store layer COPYs a batch into the session's temp table
-- merge_staging (same columns as behavior_history, cgroup_id as bigint) and
-- calls armorsmith_merge_staged(), which appends the new events to the
-- history and unions them into the merged sets in one statement. Replaces the
-- per-event function of 001 (same semantics, one round trip per batch).

DROP FUNCTION armorsmith_merge_event(text, text, bigint, text, text, text, timestamptz, bigint,
                                     text, text, numeric, jsonb);

-- Same result as 001's version without splitting strings into rows, so the
-- planner can inline it into the merge.
CREATE OR REPLACE FUNCTION armorsmith_perm_union(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat(CASE WHEN strpos(coalesce(a, '') || coalesce(b, ''), 'm') > 0 THEN 'm' END,
                  CASE WHEN strpos(coalesce(a, '') || coalesce(b, ''), 'r') > 0 THEN 'r' END,
                  CASE WHEN strpos(coalesce(a, '') || coalesce(b, ''), 'w') > 0 THEN 'w' END,
                  CASE WHEN strpos(coalesce(a, '') || coalesce(b, ''), 'a') > 0 THEN 'a' END,
                  CASE WHEN strpos(coalesce(a, '') || coalesce(b, ''), 'k') > 0 THEN 'k' END,
                  CASE WHEN strpos(coalesce(a, '') || coalesce(b, ''), 'l') > 0 THEN 'l' END,
                  CASE WHEN strpos(coalesce(a, '') || coalesce(b, ''), 'x') > 0 THEN 'x' END)
$$;

CREATE FUNCTION armorsmith_array_union(a text[], b text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(a || b) x
$$;

CREATE FUNCTION armorsmith_merge_staged() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    merged bigint;
BEGIN
    WITH ins AS (
        INSERT INTO behavior_history (event_id, policy_key, generation, node, kind, source,
                                      observed_at, pid, comm, container_id, cgroup_id, behavior)
        SELECT DISTINCT ON (event_id) event_id, policy_key, generation, node, kind, source,
               observed_at, pid, comm, container_id, cgroup_id, behavior
        FROM merge_staging ORDER BY event_id
        ON CONFLICT (event_id) DO NOTHING
        RETURNING *
    ), s_sys AS (
        INSERT INTO merged_syscalls AS m (policy_key, generation, name, first_seen, last_seen,
                                          hit_count, nodes)
        SELECT policy_key, generation, behavior->>'name', min(observed_at), max(observed_at),
               count(*), array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'syscall' GROUP BY 1, 2, 3
        ON CONFLICT (policy_key, generation, name) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    ), s_exec AS (
        INSERT INTO merged_executions AS m (policy_key, generation, path, first_seen, last_seen,
                                            hit_count, nodes)
        SELECT policy_key, generation, behavior->>'path', min(observed_at), max(observed_at),
               count(*), array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'exec' GROUP BY 1, 2, 3
        ON CONFLICT (policy_key, generation, path) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    ), s_file AS (
        INSERT INTO merged_files AS m (policy_key, generation, path, owner, old_path, permissions,
                                       first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, behavior->>'path',
               coalesce((behavior->>'owner')::boolean, false),
               coalesce(behavior->>'old_path', ''),
               armorsmith_perm_union(string_agg(behavior->>'permissions', ''), ''),
               min(observed_at), max(observed_at), count(*),
               array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'file' GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (policy_key, generation, path, owner, old_path) DO UPDATE SET
            permissions = armorsmith_perm_union(m.permissions, excluded.permissions),
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    ), s_cap AS (
        INSERT INTO merged_capabilities AS m (policy_key, generation, name, first_seen,
                                              last_seen, hit_count, nodes)
        SELECT policy_key, generation, behavior->>'name', min(observed_at), max(observed_at),
               count(*), array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'capability' GROUP BY 1, 2, 3
        ON CONFLICT (policy_key, generation, name) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    ), s_net AS (
        INSERT INTO merged_network AS m (policy_key, generation, family, sock_type, protocol,
                                         address, port, first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'family', ''),
               coalesce(behavior->>'sock_type', ''), coalesce(behavior->>'protocol', ''),
               coalesce(behavior->>'address', ''), coalesce((behavior->>'port')::integer, 0),
               min(observed_at), max(observed_at), count(*),
               array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'network' GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (policy_key, generation, family, sock_type, protocol, address, port)
        DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    ), s_ptrace AS (
        INSERT INTO merged_ptrace AS m (policy_key, generation, peer, permissions, first_seen,
                                        last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'peer', ''),
               coalesce(behavior->>'permissions', ''), min(observed_at), max(observed_at),
               count(*), array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'ptrace' GROUP BY 1, 2, 3, 4
        ON CONFLICT (policy_key, generation, peer, permissions) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    ), s_signal AS (
        INSERT INTO merged_signals AS m (policy_key, generation, peer, signal, permissions,
                                         first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'peer', ''),
               coalesce(behavior->>'signal', ''), coalesce(behavior->>'permissions', ''),
               min(observed_at), max(observed_at), count(*),
               array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'signal' GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (policy_key, generation, peer, signal, permissions) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    ), s_mount AS (
        INSERT INTO merged_mounts AS m (policy_key, generation, operation, path, source, fstype,
                                        flags, first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'operation', ''),
               coalesce(behavior->>'path', ''), coalesce(behavior->>'source', ''),
               coalesce(behavior->>'fstype', ''), coalesce(behavior->>'flags', ''),
               min(observed_at), max(observed_at), count(*),
               array_agg(DISTINCT node ORDER BY node)
        FROM ins WHERE kind = 'mount' GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (policy_key, generation, operation, path, source, fstype, flags)
        DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = armorsmith_array_union(m.nodes, excluded.nodes)
        RETURNING 1
    )
    SELECT count(*) INTO merged FROM ins;
    RETURN merged;
END
$$;
