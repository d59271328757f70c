-- The documented SQL interface for behavior history (docs/sql.md). Views only:
-- the tables under them may change with later migrations, these stay.

-- Every merged behavior of every run as (kind, item): one row per distinct
-- behavior, with its first/last sighting, hit count and nodes.
CREATE VIEW behaviors AS
    SELECT policy_key, generation, 'syscall'::text AS kind, name AS item,
           first_seen, last_seen, hit_count, nodes FROM merged_syscalls
    UNION ALL
    SELECT policy_key, generation, 'exec', path,
           first_seen, last_seen, hit_count, nodes FROM merged_executions
    UNION ALL
    SELECT policy_key, generation, 'file',
           CASE WHEN owner THEN 'owner ' ELSE '' END || path || ' ' || permissions
           || CASE WHEN old_path <> '' THEN ' (from ' || old_path || ')' ELSE '' END,
           first_seen, last_seen, hit_count, nodes FROM merged_files
    UNION ALL
    SELECT policy_key, generation, 'capability', name,
           first_seen, last_seen, hit_count, nodes FROM merged_capabilities
    UNION ALL
    SELECT policy_key, generation, 'network',
           concat_ws(' ', family, sock_type, protocol,
                     CASE WHEN address <> '' OR port <> 0 THEN address || ':' || port END),
           first_seen, last_seen, hit_count, nodes FROM merged_network
    UNION ALL
    SELECT policy_key, generation, 'ptrace', permissions || ' peer=' || peer,
           first_seen, last_seen, hit_count, nodes FROM merged_ptrace
    UNION ALL
    SELECT policy_key, generation, 'signal',
           permissions || ' ' || signal || ' peer=' || peer,
           first_seen, last_seen, hit_count, nodes FROM merged_signals
    UNION ALL
    SELECT policy_key, generation, 'mount',
           concat_ws(' ', operation, path, nullif(source, ''), nullif(fstype, ''),
                     nullif(flags, '')),
           first_seen, last_seen, hit_count, nodes FROM merged_mounts;

-- Modeling runs with their node counts and the policy's previous run.
CREATE VIEW runs AS
    SELECT r.policy_key, r.generation, r.profile_name, r.namespace, r.enforcer,
           r.sources, r.status, r.started_at, r.deadline, r.completed_at,
           lag(r.generation) OVER (PARTITION BY r.policy_key ORDER BY r.generation)
               AS previous_generation,
           (SELECT count(DISTINCT n.node) FROM node_reports n
             WHERE n.policy_key = r.policy_key AND n.generation = r.generation
               AND n.phase = 'Joined') AS nodes_joined,
           (SELECT count(DISTINCT n.node) FROM node_reports n
             WHERE n.policy_key = r.policy_key AND n.generation = r.generation
               AND n.phase IN ('Completed', 'Failed')) AS nodes_reported
    FROM modeling_runs r;

-- What each run added or dropped compared with the previous run of its policy.
CREATE VIEW run_changes AS
    SELECT r.policy_key, r.generation, r.previous_generation, 'added'::text AS change,
           b.kind, b.item
    FROM runs r JOIN behaviors b ON b.policy_key = r.policy_key AND b.generation = r.generation
    WHERE r.previous_generation IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM behaviors p
                      WHERE p.policy_key = r.policy_key AND p.generation = r.previous_generation
                        AND p.kind = b.kind AND p.item = b.item)
    UNION ALL
    SELECT r.policy_key, r.generation, r.previous_generation, 'dropped', p.kind, p.item
    FROM runs r JOIN behaviors p ON p.policy_key = r.policy_key
                                AND p.generation = r.previous_generation
    WHERE NOT EXISTS (SELECT 1 FROM behaviors b
                      WHERE b.policy_key = r.policy_key AND b.generation = r.generation
                        AND b.kind = p.kind AND b.item = p.item);
