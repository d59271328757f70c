#include "log.h"
#include "store_internal.h"
#include "store_migrations.h"
#include "timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <endian.h>
#include <string.h>

/* Advisory-lock key that serialises migrations across programs. */
#define STORE_MIGRATION_LOCK 0x61726d6f72736dLL

/* Runs a statement without parameters; logs the first line of the SQL. */
int store_exec(struct store *st, const char *sql)
{
	PGresult *res = PQexec(st->conn, sql);
	ExecStatusType s = PQresultStatus(res);
	int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	if (!ok)
		log_error("store: statement failed: %.60s...: %s", sql, PQerrorMessage(st->conn));
	PQclear(res);
	return ok ? 0 : -EIO;
}

PGresult *store_query(struct store *st, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(st->conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(res);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		log_error("store: query failed: %.60s...: %s", sql, PQerrorMessage(st->conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

static int store_migrate(struct store *st)
{
	char sql[256], ver[16];
	PGresult *res;
	int current = 0, rc;

	if (store_exec(st, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			   " version integer PRIMARY KEY, name text NOT NULL,"
			   " applied_at timestamptz NOT NULL DEFAULT now())"))
		return -EIO;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", STORE_MIGRATION_LOCK);
	if (store_exec(st, sql))
		return -EIO;
	res = store_query(st, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
	if (!res) {
		rc = -EIO;
		goto unlock;
	}
	current = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (store_migration_count &&
	    current > store_migrations[store_migration_count - 1].version) {
		log_error("store: the database has schema version %d, newer than this program's %d;"
			  " run a newer armorsmith",
			  current, store_migrations[store_migration_count - 1].version);
		rc = -EPROTO;
		goto unlock;
	}
	for (int i = 0; i < store_migration_count; i++) {
		const struct store_migration *m = &store_migrations[i];
		const char *params[2] = {ver, m->name};

		if (m->version <= current)
			continue;
		log_info("store: applying migration %s", m->name);
		snprintf(ver, sizeof(ver), "%d", m->version);
		if (store_exec(st, "BEGIN") || store_exec(st, m->sql)) {
			store_exec(st, "ROLLBACK");
			log_error("store: migration %s failed", m->name);
			rc = -EIO;
			goto unlock;
		}
		res = store_query(
		    st, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, params);
		if (!res || store_exec(st, "COMMIT")) {
			PQclear(res);
			store_exec(st, "ROLLBACK");
			rc = -EIO;
			goto unlock;
		}
		PQclear(res);
	}
	rc = 0;
unlock:
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", STORE_MIGRATION_LOCK);
	store_exec(st, sql);
	return rc;
}

static int store_connect(struct store *st, char *err, size_t errlen)
{
	st->conn = PQconnectdb(st->dsn);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		snprintf(err, errlen,
			 "postgresql unreachable at '%s': %s(start it with "
			 "deploy/local/services.sh up, or set --pg / ARMORSMITH_PG_DSN)",
			 st->dsn, PQerrorMessage(st->conn));
		PQfinish(st->conn);
		st->conn = NULL;
		return -EHOSTUNREACH;
	}
	/* Quiet the NOTICEs that IF NOT EXISTS prints on every start. */
	store_exec(st, "SET client_min_messages = warning");
	store_exec(st, "SET TIME ZONE 'UTC'");
	/* Where store_merge_batch() COPYs one row per distinct behavior of a
	 * batch before armorsmith_merge_groups() (migration 005) unions them. */
	if (store_exec(st, "CREATE TEMP TABLE IF NOT EXISTS merge_groups ("
			   " policy_key text, generation bigint, kind text, a text, b text,"
			   " c text, d text, e text, port integer, owner boolean, perms text,"
			   " first_seen timestamptz, last_seen timestamptz, hits bigint,"
			   " nodes text[]) ON COMMIT DELETE ROWS")) {
		snprintf(err, errlen, "cannot create the staging table on '%s'", st->dsn);
		PQfinish(st->conn);
		st->conn = NULL;
		return -EIO;
	}
	return 0;
}

int store_open(const char *dsn, struct store **out, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	st->dsn = strdup(dsn);
	if (!st->dsn) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = store_connect(st, err, errlen);
	if (rc < 0)
		goto fail;
	rc = store_migrate(st);
	if (rc < 0) {
		snprintf(err, errlen, "cannot apply store migrations on '%s'", dsn);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->conn)
		PQfinish(st->conn);
	for (size_t i = 0; i < st->cap_runids; i++)
		free(st->runids[i].policy_key);
	free(st->runids);
	free(st->days);
	free(st->copy.data);
	free(st->dsn);
	free(st);
}

int store_reconnect(struct store *st)
{
	char err[512];

	if (st->conn && PQstatus(st->conn) == CONNECTION_OK)
		return 0;
	if (st->conn) {
		PQfinish(st->conn);
		st->conn = NULL;
	}
	if (store_connect(st, err, sizeof(err)) < 0) {
		log_warn("%s", err);
		return -EHOSTUNREACH;
	}
	log_info("store: reconnected to postgresql");
	return 0;
}

int store_schema_version(struct store *st)
{
	PGresult *res =
	    store_query(st, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
	int v;

	if (!res)
		return -EIO;
	v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

const char *store_source_name(Armorsmith__V1__Source s)
{
	switch (s) {
	case ARMORSMITH__V1__SOURCE__SOURCE_BPF:
		return "bpf";
	case ARMORSMITH__V1__SOURCE__SOURCE_SECCOMP_AUDIT:
		return "seccomp-audit";
	case ARMORSMITH__V1__SOURCE__SOURCE_APPARMOR_AUDIT:
		return "apparmor-audit";
	default:
		return "unspecified";
	}
}

int store_load_offset(struct store *st, const char *group, const char *topic, int32_t partition,
		      int64_t *next_offset)
{
	char part[16];
	const char *params[3] = {group, topic, part};
	PGresult *res;
	int rc = -ENOENT;

	snprintf(part, sizeof(part), "%d", partition);
	res = store_query(st,
			  "SELECT next_offset FROM consumer_offsets WHERE consumer_group = $1"
			  " AND topic = $2 AND kafka_partition = $3",
			  3, params);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		*next_offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int store_list_due_runs(struct store *st, int64_t now_ns, struct store_run **runs, size_t *n)
{
	char now[40];
	const char *params[1] = {now};
	PGresult *res;
	struct store_run *out;
	int rows;

	store_format_time(now_ns, now, sizeof(now));
	res = store_query(
	    st,
	    "SELECT r.policy_key, r.generation,"
	    " (extract(epoch FROM r.deadline) * 1000000)::bigint,"
	    " (SELECT count(DISTINCT node) FROM node_reports n WHERE n.policy_key = r.policy_key"
	    "   AND n.generation = r.generation AND n.phase = 'Joined'),"
	    " (SELECT count(DISTINCT node) FROM node_reports n WHERE n.policy_key = r.policy_key"
	    "   AND n.generation = r.generation AND n.phase IN ('Completed', 'Failed'))"
	    " FROM modeling_runs r WHERE r.status = 'Modeling'"
	    " AND r.deadline <= to_timestamp($1::float8) ORDER BY r.deadline",
	    1, params);
	if (!res)
		return -EIO;
	rows = PQntuples(res);
	out = calloc(rows ? (size_t)rows : 1, sizeof(*out));
	if (!out) {
		PQclear(res);
		return -ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		snprintf(out[i].policy_key, sizeof(out[i].policy_key), "%s", PQgetvalue(res, i, 0));
		out[i].generation = strtoull(PQgetvalue(res, i, 1), NULL, 10);
		out[i].deadline_ns = strtoll(PQgetvalue(res, i, 2), NULL, 10) * 1000;
		out[i].joined = (uint32_t)strtoul(PQgetvalue(res, i, 3), NULL, 10);
		out[i].reported = (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10);
	}
	PQclear(res);
	*runs = out;
	*n = (size_t)rows;
	return 0;
}

/* Runs a query with (policy_key, generation) and hands each row to fn. */
static int load_rows(struct store *st, const char *sql, const char *key, const char *gen,
		     int (*fn)(struct behavior_model *, PGresult *, int), struct behavior_model *m)
{
	const char *params[2] = {key, gen};
	PGresult *res = store_query(st, sql, 2, params);
	int rc = 0;

	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = fn(m, res, i);
	PQclear(res);
	return rc;
}

static int row_syscall(struct behavior_model *m, PGresult *r, int i)
{
	return strlist_add(&m->syscalls, PQgetvalue(r, i, 0));
}

static int row_exec(struct behavior_model *m, PGresult *r, int i)
{
	return strlist_add(&m->execs, PQgetvalue(r, i, 0));
}

static int row_capability(struct behavior_model *m, PGresult *r, int i)
{
	return strlist_add(&m->capabilities, PQgetvalue(r, i, 0));
}

static int row_file(struct behavior_model *m, PGresult *r, int i)
{
	return behavior_model_add_file(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				       PQgetvalue(r, i, 2)[0] == 't', PQgetvalue(r, i, 3));
}

static int row_network(struct behavior_model *m, PGresult *r, int i)
{
	return behavior_model_add_network(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
					  PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
					  (uint32_t)strtoul(PQgetvalue(r, i, 4), NULL, 10));
}

static int row_ptrace(struct behavior_model *m, PGresult *r, int i)
{
	return behavior_model_add_ptrace(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
}

static int row_signal(struct behavior_model *m, PGresult *r, int i)
{
	return behavior_model_add_signal(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
					 PQgetvalue(r, i, 2));
}

static int row_mount(struct behavior_model *m, PGresult *r, int i)
{
	return behavior_model_add_mount(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
					PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
					PQgetvalue(r, i, 4));
}

static int row_failed_node(struct behavior_model *m, PGresult *r, int i)
{
	char line[1024];

	snprintf(line, sizeof(line), "%s: %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	return strlist_add(&m->failed_nodes, line);
}

#define WHERE_RUN " WHERE policy_key = $1 AND generation = $2"

int store_load_model(struct store *st, const char *policy_key, uint64_t generation,
		     struct behavior_model *m)
{
	static const struct {
		const char *sql;
		int (*fn)(struct behavior_model *, PGresult *, int);
	} parts[] = {
	    {"SELECT name FROM merged_syscalls" WHERE_RUN, row_syscall},
	    {"SELECT path FROM merged_executions" WHERE_RUN, row_exec},
	    {"SELECT name FROM merged_capabilities" WHERE_RUN, row_capability},
	    {"SELECT path, permissions, owner, old_path FROM merged_files" WHERE_RUN, row_file},
	    {"SELECT family, sock_type, protocol, address, port FROM merged_network" WHERE_RUN,
	     row_network},
	    {"SELECT peer, permissions FROM merged_ptrace" WHERE_RUN, row_ptrace},
	    {"SELECT peer, signal, permissions FROM merged_signals" WHERE_RUN, row_signal},
	    {"SELECT operation, path, source, fstype, flags FROM merged_mounts" WHERE_RUN,
	     row_mount},
	    /* Nodes that failed, reported an incomplete capture, or joined and
	     * never reported (the grace period ran out). */
	    {"SELECT j.node, coalesce(nullif(f.message, ''), CASE WHEN f.phase = 'Failed'"
	     " THEN 'node failed' END, 'node joined the run but never reported')"
	     " FROM node_reports j LEFT JOIN node_reports f ON f.policy_key = j.policy_key"
	     " AND f.generation = j.generation AND f.node = j.node"
	     " AND f.phase IN ('Completed', 'Failed')"
	     " WHERE j.policy_key = $1 AND j.generation = $2 AND j.phase = 'Joined'"
	     " AND (f.node IS NULL OR f.phase = 'Failed' OR f.message <> '')",
	     row_failed_node},
	};
	const char *params[2];
	char gen[24];
	PGresult *res;
	int rc;

	snprintf(gen, sizeof(gen), "%" PRIu64, generation);
	params[0] = policy_key;
	params[1] = gen;
	res =
	    store_query(st,
			"SELECT profile_name, namespace, enforcer, 'bpf' = ANY(sources),"
			" (SELECT count(DISTINCT node) FROM node_reports n WHERE n.policy_key = $1"
			"  AND n.generation = $2 AND n.phase = 'Joined'),"
			" (SELECT count(DISTINCT node) FROM node_reports n WHERE n.policy_key = $1"
			"  AND n.generation = $2 AND n.phase = 'Completed')"
			" FROM modeling_runs" WHERE_RUN,
			2, params);
	if (!res)
		return -EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		log_error("store: no modeling run %s generation %s", policy_key, gen);
		return -ENOENT;
	}
	memset(m, 0, sizeof(*m));
	m->profile_name = strdup(PQgetvalue(res, 0, 0));
	m->namespace = strdup(PQgetvalue(res, 0, 1));
	m->enforcer = strdup(PQgetvalue(res, 0, 2));
	m->generation = generation;
	m->bpf_data = PQgetvalue(res, 0, 3)[0] == 't';
	m->desired_nodes = (uint32_t)strtoul(PQgetvalue(res, 0, 4), NULL, 10);
	m->completed_nodes = (uint32_t)strtoul(PQgetvalue(res, 0, 5), NULL, 10);
	PQclear(res);
	if (!m->profile_name || !m->namespace || !m->enforcer) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		rc = load_rows(st, parts[i].sql, policy_key, gen, parts[i].fn, m);
		if (rc < 0)
			goto fail;
	}
	behavior_model_normalize(m);
	return 0;
fail:
	behavior_model_free(m);
	return rc;
}

int store_mark_completed(struct store *st, const char *policy_key, uint64_t generation,
			 const char *apparmor, const char *seccomp)
{
	char gen[24];
	const char *params[4] = {policy_key, gen, apparmor, seccomp};
	PGresult *res;

	snprintf(gen, sizeof(gen), "%" PRIu64, generation);
	res = store_query(st,
			  "UPDATE modeling_runs SET status = 'Completed', completed_at = now(),"
			  " apparmor_profile = $3, seccomp_profile = $4" WHERE_RUN,
			  4, params);
	if (!res)
		return -EIO;
	PQclear(res);
	return 0;
}

int store_run_status(struct store *st, const char *policy_key, uint64_t generation, char *status,
		     size_t len, uint64_t *events, uint32_t *joined, uint32_t *reported)
{
	char gen[24];
	const char *params[2] = {policy_key, gen};
	PGresult *res;
	int rc = -ENOENT;

	snprintf(gen, sizeof(gen), "%" PRIu64, generation);
	res =
	    store_query(st,
			"SELECT r.status,"
			" (SELECT coalesce(sum(events_merged), 0) FROM run_keys k"
			"  WHERE k.policy_key = $1 AND k.generation = $2),"
			" (SELECT count(DISTINCT node) FROM node_reports n WHERE n.policy_key = $1"
			"  AND n.generation = $2 AND n.phase = 'Joined'),"
			" (SELECT count(DISTINCT node) FROM node_reports n WHERE n.policy_key = $1"
			"  AND n.generation = $2 AND n.phase IN ('Completed', 'Failed'))"
			" FROM modeling_runs r" WHERE_RUN,
			2, params);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		snprintf(status, len, "%s", PQgetvalue(res, 0, 0));
		*events = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
		*joined = (uint32_t)strtoul(PQgetvalue(res, 0, 2), NULL, 10);
		*reported = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int store_list_generations(struct store *st, const char *policy_key, uint64_t *gens, size_t max,
			   size_t *n)
{
	const char *params[1] = {policy_key};
	PGresult *res = store_query(st,
				    "SELECT generation FROM modeling_runs WHERE policy_key = $1"
				    " ORDER BY generation DESC",
				    1, params);
	size_t rows;

	if (!res)
		return -EIO;
	rows = (size_t)PQntuples(res);
	*n = rows < max ? rows : max;
	for (size_t i = 0; i < *n; i++)
		gens[i] = strtoull(PQgetvalue(res, (int)i, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int store_run_items(struct store *st, const char *policy_key, uint64_t generation,
		    struct strlist *out)
{
	char gen[24];
	const char *params[2] = {policy_key, gen};
	PGresult *res;
	int rc = 0;

	snprintf(gen, sizeof(gen), "%" PRIu64, generation);
	res = store_query(st,
			  "SELECT kind || ' ' || item FROM behaviors" WHERE_RUN
			  " ORDER BY kind || ' ' || item COLLATE \"C\"",
			  2, params);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = strlist_add(out, PQgetvalue(res, i, 0));
	PQclear(res);
	return rc;
}

int store_run_profiles(struct store *st, const char *policy_key, uint64_t generation,
		       char **apparmor, char **seccomp)
{
	char gen[24];
	const char *params[2] = {policy_key, gen};
	PGresult *res;

	*apparmor = *seccomp = NULL;
	snprintf(gen, sizeof(gen), "%" PRIu64, generation);
	res = store_query(
	    st, "SELECT apparmor_profile, seccomp_profile FROM modeling_runs" WHERE_RUN, 2, params);
	if (!res)
		return -EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -ENOENT;
	}
	if (!PQgetisnull(res, 0, 0))
		*apparmor = strdup(PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1))
		*seccomp = strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

int store_list_completed_runs(struct store *st, const char *policy_key, struct store_run **runs,
			      size_t *n)
{
	const char *params[1] = {policy_key};
	PGresult *res =
	    store_query(st,
			"SELECT policy_key, generation FROM modeling_runs"
			" WHERE status = 'Completed' AND ($1::text IS NULL OR policy_key = $1)"
			" ORDER BY policy_key, generation",
			1, params);
	struct store_run *out;
	int rows;

	if (!res)
		return -EIO;
	rows = PQntuples(res);
	out = calloc(rows ? (size_t)rows : 1, sizeof(*out));
	if (!out) {
		PQclear(res);
		return -ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		snprintf(out[i].policy_key, sizeof(out[i].policy_key), "%s", PQgetvalue(res, i, 0));
		out[i].generation = strtoull(PQgetvalue(res, i, 1), NULL, 10);
	}
	PQclear(res);
	*runs = out;
	*n = (size_t)rows;
	return 0;
}

int store_reset_projection(struct store *st, const char *policy_key)
{
	static const char *const tables[] = {
	    "merged_syscalls",	   "merged_executions", "merged_files",
	    "merged_capabilities", "merged_network",	"merged_ptrace",
	    "merged_signals",	   "merged_mounts",	"node_reports",
	};
	/* Merges of these runs hold their partitions' locks: taking them
	 * first means no merge is half-way through a run being deleted. */
	static const char lock_sql[] =
	    "SELECT pg_advisory_xact_lock(k1, k2) FROM (SELECT DISTINCT hashtext(topic) AS k1,"
	    " kafka_partition AS k2 FROM merged_ranges r JOIN run_keys k USING (run_id)"
	    " WHERE $1::text IS NULL OR k.policy_key = $1 ORDER BY 1, 2) s";
	static const char *const run_sql[] = {
	    "DELETE FROM event_history h USING run_keys k WHERE h.run_id = k.run_id"
	    " AND ($1::text IS NULL OR k.policy_key = $1)",
	    "DELETE FROM merged_ranges r USING run_keys k WHERE r.run_id = k.run_id"
	    " AND ($1::text IS NULL OR k.policy_key = $1)",
	    "UPDATE run_keys SET events_merged = 0 WHERE $1::text IS NULL OR policy_key = $1",
	};
	const char *params[1] = {policy_key};
	char sql[256];
	PGresult *res;

	if (store_exec(st, "BEGIN"))
		return -EIO;
	res = store_query(st, lock_sql, 1, params);
	if (!res)
		goto fail;
	PQclear(res);
	for (size_t i = 0; i < sizeof(run_sql) / sizeof(run_sql[0]); i++) {
		res = store_query(st, run_sql[i], 1, params);
		if (!res)
			goto fail;
		PQclear(res);
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "DELETE FROM %s WHERE $1::text IS NULL OR policy_key = $1", tables[i]);
		res = store_query(st, sql, 1, params);
		if (!res)
			goto fail;
		PQclear(res);
	}
	return store_exec(st, "COMMIT") ? -EIO : 0;
fail:
	store_exec(st, "ROLLBACK");
	return -EIO;
}

int store_history_prepare(struct store *st, int64_t now_ns)
{
	int32_t today = (int32_t)(now_ns / NSEC_PER_SEC / 86400);

	/* Yesterday for late events, tomorrow and the day after so that a
	 * merge at midnight rarely waits for a new partition. */
	for (int32_t d = today - 1; d <= today + 2; d++) {
		int rc = store_history_partition(st, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int store_history_seal(struct store *st, int64_t now_ns, int *sealed)
{
	char day[40];
	const char *params[1] = {day};
	PGresult *res;

	*sealed = 0;
	snprintf(day, sizeof(day), "%" PRId64, now_ns / NSEC_PER_SEC);
	res = store_query(st,
			  "SELECT armorsmith_seal_history("
			  "(to_timestamp($1::float8) AT TIME ZONE 'UTC')::date)",
			  1, params);
	if (!res)
		return -EIO;
	*sealed = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (*sealed)
		log_info("store: indexed %d finished day(s) of history", *sealed);
	return 0;
}

int store_history_expire(struct store *st, int64_t now_ns, int64_t retention_ns, int *dropped)
{
	char cutoff[40];
	const char *params[1] = {cutoff};
	PGresult *res;
	int rc = 0;

	*dropped = 0;
	if (retention_ns <= 0)
		return 0;
	snprintf(cutoff, sizeof(cutoff), "%" PRId64, (now_ns - retention_ns) / NSEC_PER_SEC);
	/* A day goes once all of it is older than the cutoff; the names are
	 * event_history_YYYYMMDD (armorsmith_history_partition). */
	res =
	    store_query(st,
			"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
			" WHERE i.inhparent = 'event_history'::regclass"
			" AND c.relname ~ '^event_history_[0-9]{8}$'"
			" AND to_date(substr(c.relname, 15), 'YYYYMMDD') + 1"
			"     <= (to_timestamp($1::float8) AT TIME ZONE 'UTC')::date"
			" ORDER BY 1",
			1, params);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		char sql[160];
		const char *name = PQgetvalue(res, i, 0);

		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
		if (store_exec(st, sql) < 0) {
			rc = -EIO;
			break;
		}
		log_info("store: dropped history partition %s (older than the retention)", name);
		(*dropped)++;
	}
	PQclear(res);
	/* Forget the days so a late event of one makes its partition again. */
	st->n_days = 0;
	return rc;
}
