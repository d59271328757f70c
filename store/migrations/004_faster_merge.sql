-- The same merge as 003 without per-group function calls in the common case:
-- SQL functions that use an argument twice are not inlined, and calling one
-- per group cost more than the rest of the merge. A group whose events agree
-- (one node, one permission string) takes the value as it is; only groups that
-- differ pay for the union. In-batch duplicate event ids need no sort: ON
-- CONFLICT DO NOTHING skips the second one as well.

CREATE OR REPLACE FUNCTION armorsmith_merge_staged() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    merged bigint;
BEGIN
    WITH ins AS (
        INSERT INTO behavior_history (event_id, policy_key, generation, node, kind, source,
                                      observed_at, pid, comm, container_id, cgroup_id, behavior)
        SELECT event_id, policy_key, generation, node, kind, source,
               observed_at, pid, comm, container_id, cgroup_id, behavior
        FROM merge_staging
        ON CONFLICT (event_id) DO NOTHING
        RETURNING *
    ), s_sys AS (
        INSERT INTO merged_syscalls AS m (policy_key, generation, name, first_seen, last_seen,
                                          hit_count, nodes)
        SELECT policy_key, generation, behavior->>'name', min(observed_at), max(observed_at),
               count(*), CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'syscall' GROUP BY 1, 2, 3
        ON CONFLICT (policy_key, generation, name) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    ), s_exec AS (
        INSERT INTO merged_executions AS m (policy_key, generation, path, first_seen, last_seen,
                                            hit_count, nodes)
        SELECT policy_key, generation, behavior->>'path', min(observed_at), max(observed_at),
               count(*), CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'exec' GROUP BY 1, 2, 3
        ON CONFLICT (policy_key, generation, path) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    ), s_file AS (
        INSERT INTO merged_files AS m (policy_key, generation, path, owner, old_path, permissions,
                                       first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, behavior->>'path',
               coalesce((behavior->>'owner')::boolean, false),
               coalesce(behavior->>'old_path', ''),
               CASE WHEN min(behavior->>'permissions') = max(behavior->>'permissions')
                    THEN min(behavior->>'permissions')
                    ELSE armorsmith_perm_union(string_agg(behavior->>'permissions', ''), '') END,
               min(observed_at), max(observed_at), count(*),
               CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'file' GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (policy_key, generation, path, owner, old_path) DO UPDATE SET
            permissions = CASE WHEN m.permissions = excluded.permissions THEN m.permissions
                               ELSE armorsmith_perm_union(m.permissions, excluded.permissions) END,
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    ), s_cap AS (
        INSERT INTO merged_capabilities AS m (policy_key, generation, name, first_seen,
                                              last_seen, hit_count, nodes)
        SELECT policy_key, generation, behavior->>'name', min(observed_at), max(observed_at),
               count(*), CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'capability' GROUP BY 1, 2, 3
        ON CONFLICT (policy_key, generation, name) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    ), s_net AS (
        INSERT INTO merged_network AS m (policy_key, generation, family, sock_type, protocol,
                                         address, port, first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'family', ''),
               coalesce(behavior->>'sock_type', ''), coalesce(behavior->>'protocol', ''),
               coalesce(behavior->>'address', ''), coalesce((behavior->>'port')::integer, 0),
               min(observed_at), max(observed_at), count(*),
               CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'network' GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (policy_key, generation, family, sock_type, protocol, address, port)
        DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    ), s_ptrace AS (
        INSERT INTO merged_ptrace AS m (policy_key, generation, peer, permissions, first_seen,
                                        last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'peer', ''),
               coalesce(behavior->>'permissions', ''), min(observed_at), max(observed_at),
               count(*), CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'ptrace' GROUP BY 1, 2, 3, 4
        ON CONFLICT (policy_key, generation, peer, permissions) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    ), s_signal AS (
        INSERT INTO merged_signals AS m (policy_key, generation, peer, signal, permissions,
                                         first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'peer', ''),
               coalesce(behavior->>'signal', ''), coalesce(behavior->>'permissions', ''),
               min(observed_at), max(observed_at), count(*),
               CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'signal' GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (policy_key, generation, peer, signal, permissions) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    ), s_mount AS (
        INSERT INTO merged_mounts AS m (policy_key, generation, operation, path, source, fstype,
                                        flags, first_seen, last_seen, hit_count, nodes)
        SELECT policy_key, generation, coalesce(behavior->>'operation', ''),
               coalesce(behavior->>'path', ''), coalesce(behavior->>'source', ''),
               coalesce(behavior->>'fstype', ''), coalesce(behavior->>'flags', ''),
               min(observed_at), max(observed_at), count(*),
               CASE WHEN min(node) = max(node) THEN ARRAY[min(node)]
                    ELSE armorsmith_array_union(array_agg(node), '{}') END
        FROM ins WHERE kind = 'mount' GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (policy_key, generation, operation, path, source, fstype, flags)
        DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + excluded.hit_count,
            nodes = CASE WHEN m.nodes @> excluded.nodes THEN m.nodes
                         ELSE armorsmith_array_union(m.nodes, excluded.nodes) END
        RETURNING 1
    )
    SELECT count(*) INTO merged FROM ins;
    RETURN merged;
END
$$;
