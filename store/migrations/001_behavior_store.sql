-- The behavior store: a projection of armorsmith.control.v1 and
-- armorsmith.behavior.v1 that profiles are built from and people query.
-- Every merge is a set union keyed by the event id, so a redelivered event
-- changes nothing.

CREATE TABLE modeling_runs (
    policy_key        text        NOT NULL,
    generation        bigint      NOT NULL,
    profile_name      text        NOT NULL,
    namespace         text        NOT NULL,
    enforcer          text        NOT NULL,
    sources           text[]      NOT NULL DEFAULT '{}',
    target            jsonb       NOT NULL DEFAULT '{}',
    duration_seconds  bigint      NOT NULL DEFAULT 0,
    started_at        timestamptz NOT NULL,
    deadline          timestamptz NOT NULL,
    status            text        NOT NULL DEFAULT 'Modeling'
                      CHECK (status IN ('Modeling', 'Completed', 'Deleted')),
    completed_at      timestamptz,
    apparmor_profile  text,
    seccomp_profile   text,
    PRIMARY KEY (policy_key, generation)
);

CREATE TABLE node_reports (
    policy_key        text        NOT NULL,
    generation        bigint      NOT NULL,
    node              text        NOT NULL,
    phase             text        NOT NULL CHECK (phase IN ('Joined', 'Completed', 'Failed')),
    events_published  bigint      NOT NULL DEFAULT 0,
    records_seen      bigint      NOT NULL DEFAULT 0,
    audit_lost        bigint      NOT NULL DEFAULT 0,
    message           text        NOT NULL DEFAULT '',
    reported_at       timestamptz NOT NULL,
    report_id         text        NOT NULL,
    PRIMARY KEY (policy_key, generation, node, phase)
);

-- Append-only history of every distinct behavior event as it was published.
CREATE TABLE behavior_history (
    event_id      text        PRIMARY KEY,
    policy_key    text        NOT NULL,
    generation    bigint      NOT NULL,
    node          text        NOT NULL,
    kind          text        NOT NULL,
    source        text        NOT NULL,
    observed_at   timestamptz NOT NULL,
    pid           bigint      NOT NULL DEFAULT 0,
    comm          text        NOT NULL DEFAULT '',
    container_id  text        NOT NULL DEFAULT '',
    cgroup_id     numeric     NOT NULL DEFAULT 0,
    behavior      jsonb       NOT NULL
);
CREATE INDEX behavior_history_policy ON behavior_history (policy_key, generation);
CREATE INDEX behavior_history_time ON behavior_history USING brin (observed_at);

-- Merged sets, one table per behavior kind. Columns shared by all of them:
-- first_seen, last_seen, hit_count (distinct events merged), nodes.
CREATE TABLE merged_syscalls (
    policy_key text NOT NULL, generation bigint NOT NULL,
    name text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, name)
);
CREATE TABLE merged_executions (
    policy_key text NOT NULL, generation bigint NOT NULL,
    path text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, path)
);
CREATE TABLE merged_files (
    policy_key text NOT NULL, generation bigint NOT NULL,
    path text NOT NULL, owner boolean NOT NULL, old_path text NOT NULL DEFAULT '',
    permissions text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, path, owner, old_path)
);
CREATE TABLE merged_capabilities (
    policy_key text NOT NULL, generation bigint NOT NULL,
    name text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, name)
);
CREATE TABLE merged_network (
    policy_key text NOT NULL, generation bigint NOT NULL,
    family text NOT NULL, sock_type text NOT NULL, protocol text NOT NULL,
    address text NOT NULL DEFAULT '', port integer NOT NULL DEFAULT 0,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, family, sock_type, protocol, address, port)
);
CREATE TABLE merged_ptrace (
    policy_key text NOT NULL, generation bigint NOT NULL,
    peer text NOT NULL, permissions text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, peer, permissions)
);
CREATE TABLE merged_signals (
    policy_key text NOT NULL, generation bigint NOT NULL,
    peer text NOT NULL, signal text NOT NULL, permissions text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, peer, signal, permissions)
);
CREATE TABLE merged_mounts (
    policy_key text NOT NULL, generation bigint NOT NULL,
    operation text NOT NULL, path text NOT NULL, source text NOT NULL DEFAULT '',
    fstype text NOT NULL DEFAULT '', flags text NOT NULL DEFAULT '',
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    hit_count bigint NOT NULL DEFAULT 1, nodes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (policy_key, generation, operation, path, source, fstype, flags)
);

-- Kafka offsets consumed, committed in the same transaction as the merge.
CREATE TABLE consumer_offsets (
    consumer_group text   NOT NULL,
    topic          text   NOT NULL,
    kafka_partition integer NOT NULL,
    next_offset    bigint NOT NULL,
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);

-- Union of two AppArmor permission strings, letters in a fixed order.
CREATE FUNCTION armorsmith_perm_union(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(l, '' ORDER BY position(l IN 'mrwaklx'))
    FROM (SELECT DISTINCT l FROM regexp_split_to_table(coalesce(a, '') || coalesce(b, ''), '') AS l
          WHERE l <> '') s
$$;

CREATE FUNCTION armorsmith_array_add(arr text[], v text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v = ANY(arr) THEN arr
                ELSE (SELECT array_agg(x ORDER BY x) FROM unnest(arr || v) x) END
$$;

-- Appends one event to the history and unions it into its policy's merged
-- set. Returns false when the event id was already merged (redelivery).
CREATE FUNCTION armorsmith_merge_event(
    p_event_id text, p_policy_key text, p_generation bigint, p_node text,
    p_kind text, p_source text, p_at timestamptz, p_pid bigint, p_comm text,
    p_container text, p_cgroup numeric, b jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO behavior_history (event_id, policy_key, generation, node, kind, source,
                                  observed_at, pid, comm, container_id, cgroup_id, behavior)
    VALUES (p_event_id, p_policy_key, p_generation, p_node, p_kind, p_source,
            p_at, p_pid, p_comm, p_container, p_cgroup, b)
    ON CONFLICT (event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    CASE p_kind
    WHEN 'syscall' THEN
        INSERT INTO merged_syscalls AS m (policy_key, generation, name, first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, b->>'name', p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, name) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    WHEN 'exec' THEN
        INSERT INTO merged_executions AS m (policy_key, generation, path, first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, b->>'path', p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, path) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    WHEN 'file' THEN
        INSERT INTO merged_files AS m (policy_key, generation, path, owner, old_path, permissions,
                                       first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, b->>'path', coalesce((b->>'owner')::boolean, false),
                coalesce(b->>'old_path', ''), armorsmith_perm_union(b->>'permissions', ''),
                p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, path, owner, old_path) DO UPDATE SET
            permissions = armorsmith_perm_union(m.permissions, excluded.permissions),
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    WHEN 'capability' THEN
        INSERT INTO merged_capabilities AS m (policy_key, generation, name, first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, b->>'name', p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, name) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    WHEN 'network' THEN
        INSERT INTO merged_network AS m (policy_key, generation, family, sock_type, protocol,
                                         address, port, first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, coalesce(b->>'family', ''), coalesce(b->>'sock_type', ''),
                coalesce(b->>'protocol', ''), coalesce(b->>'address', ''),
                coalesce((b->>'port')::integer, 0), p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, family, sock_type, protocol, address, port) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    WHEN 'ptrace' THEN
        INSERT INTO merged_ptrace AS m (policy_key, generation, peer, permissions, first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, coalesce(b->>'peer', ''), coalesce(b->>'permissions', ''),
                p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, peer, permissions) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    WHEN 'signal' THEN
        INSERT INTO merged_signals AS m (policy_key, generation, peer, signal, permissions,
                                         first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, coalesce(b->>'peer', ''), coalesce(b->>'signal', ''),
                coalesce(b->>'permissions', ''), p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, peer, signal, permissions) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    WHEN 'mount' THEN
        INSERT INTO merged_mounts AS m (policy_key, generation, operation, path, source, fstype,
                                        flags, first_seen, last_seen, nodes)
        VALUES (p_policy_key, p_generation, coalesce(b->>'operation', ''), coalesce(b->>'path', ''),
                coalesce(b->>'source', ''), coalesce(b->>'fstype', ''), coalesce(b->>'flags', ''),
                p_at, p_at, ARRAY[p_node])
        ON CONFLICT (policy_key, generation, operation, path, source, fstype, flags) DO UPDATE SET
            first_seen = least(m.first_seen, excluded.first_seen),
            last_seen = greatest(m.last_seen, excluded.last_seen),
            hit_count = m.hit_count + 1, nodes = armorsmith_array_add(m.nodes, p_node);
    ELSE
        RAISE EXCEPTION 'unknown behavior kind %', p_kind;
    END CASE;
    RETURN true;
END
$$;
