#include "store.h"
#include "log.h"
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

struct store {
	PGconn *conn;
	char *dsn;
};

struct store_offset {
	char topic[256];
	int32_t partition;
	int64_t next_offset;
};

struct store_batch {
	const Armorsmith__V1__BehaviorEvent **events;
	size_t n_events, cap_events;
	const Armorsmith__V1__NodeReport **reports;
	size_t n_reports, cap_reports;
	const Armorsmith__V1__ModelingControl **controls;
	size_t n_controls, cap_controls;
	struct store_offset *offsets;
	size_t n_offsets, cap_offsets;
};

/* Advisory-lock key that serialises migrations across programs. */
#define STORE_MIGRATION_LOCK 0x61726d6f72736dLL

/* Runs a statement without parameters; logs the first line of the SQL. */
static int store_exec(struct store *st, const char *sql)
{
	PGresult *res = PQexec(st->conn, sql);
	ExecStatusType s = PQresultStatus(res);
	int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	if (!ok)
		log_error("store: statement failed: %.60s...: %s", sql, PQerrorMessage(st->conn));
	PQclear(res);
	return ok ? 0 : -EIO;
}

static PGresult *store_query(struct store *st, const char *sql, int n, const char *const *params)
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
	/* Where each batch is COPYed before armorsmith_merge_staged() merges it. */
	if (store_exec(st, "CREATE TEMP TABLE IF NOT EXISTS merge_staging ("
			   " event_id text, policy_key text, generation bigint, node text,"
			   " kind text, source text, observed_at timestamptz, pid bigint,"
			   " comm text, container_id text, cgroup_id bigint, behavior jsonb)"
			   " ON COMMIT DELETE ROWS")) {
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

struct store_batch *store_batch_new(void)
{
	return calloc(1, sizeof(struct store_batch));
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	free(b->events);
	free(b->reports);
	free(b->controls);
	free(b->offsets);
	free(b);
}

static int push_ptr(const void ***arr, size_t *n, size_t *cap, const void *p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		const void **g = realloc(*arr, ncap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		*arr = g;
		*cap = ncap;
	}
	(*arr)[(*n)++] = p;
	return 0;
}

int store_batch_add_event(struct store_batch *b, const Armorsmith__V1__BehaviorEvent *ev)
{
	return push_ptr((const void ***)&b->events, &b->n_events, &b->cap_events, ev);
}

int store_batch_add_report(struct store_batch *b, const Armorsmith__V1__NodeReport *rep)
{
	return push_ptr((const void ***)&b->reports, &b->n_reports, &b->cap_reports, rep);
}

int store_batch_add_control(struct store_batch *b, const Armorsmith__V1__ModelingControl *ctl)
{
	return push_ptr((const void ***)&b->controls, &b->n_controls, &b->cap_controls, ctl);
}

int store_batch_add_offset(struct store_batch *b, const char *topic, int32_t partition,
			   int64_t next_offset)
{
	/* Keep one entry per partition: the highest offset wins. */
	for (size_t i = 0; i < b->n_offsets; i++) {
		struct store_offset *o = &b->offsets[i];
		if (o->partition == partition && strcmp(o->topic, topic) == 0) {
			if (next_offset > o->next_offset)
				o->next_offset = next_offset;
			return 0;
		}
	}
	if (b->n_offsets == b->cap_offsets) {
		size_t ncap = b->cap_offsets ? b->cap_offsets * 2 : 8;
		struct store_offset *g = realloc(b->offsets, ncap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		b->offsets = g;
		b->cap_offsets = ncap;
	}
	snprintf(b->offsets[b->n_offsets].topic, sizeof(b->offsets[0].topic), "%s", topic);
	b->offsets[b->n_offsets].partition = partition;
	b->offsets[b->n_offsets].next_offset = next_offset;
	b->n_offsets++;
	return 0;
}

size_t store_batch_len(const struct store_batch *b)
{
	return b->n_events + b->n_reports + b->n_controls;
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

/* The behavior of an event as (kind, JSON object) for the history table. */
static json_t *event_behavior_json(const Armorsmith__V1__BehaviorEvent *ev, const char **kind)
{
	switch (ev->behavior_case) {
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL:
		*kind = "syscall";
		return json_pack("{s:s, s:s, s:i}", "name", ev->syscall->name, "arch",
				 ev->syscall->arch, "number", (int)ev->syscall->number);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_EXEC:
		*kind = "exec";
		return json_pack("{s:s}", "path", ev->exec->path);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE:
		*kind = "file";
		return json_pack("{s:s, s:s, s:b, s:s}", "path", ev->file->path, "permissions",
				 ev->file->permissions, "owner", ev->file->owner, "old_path",
				 ev->file->old_path);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY:
		*kind = "capability";
		return json_pack("{s:s}", "name", ev->capability->name);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_NETWORK:
		*kind = "network";
		return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "family", ev->network->family,
				 "sock_type", ev->network->sock_type, "protocol",
				 ev->network->protocol, "operation", ev->network->operation,
				 "address", ev->network->address, "port",
				 (json_int_t)ev->network->port);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_PTRACE:
		*kind = "ptrace";
		return json_pack("{s:s, s:s}", "peer", ev->ptrace->peer, "permissions",
				 ev->ptrace->permissions);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SIGNAL:
		*kind = "signal";
		return json_pack("{s:s, s:s, s:s}", "peer", ev->signal->peer, "signal",
				 ev->signal->signal, "permissions", ev->signal->permissions);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_MOUNT:
		*kind = "mount";
		return json_pack("{s:s, s:s, s:s, s:s, s:s}", "operation", ev->mount->operation,
				 "path", ev->mount->path, "source", ev->mount->source, "fstype",
				 ev->mount->fstype, "flags", ev->mount->flags);
	default:
		*kind = NULL;
		return NULL;
	}
}

static void format_time(int64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRId64 ".%06" PRId64, ns / NSEC_PER_SEC, (ns % NSEC_PER_SEC) / 1000);
}

/* A growable buffer holding one batch in PostgreSQL's binary COPY format. */
struct copybuf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

static void copy_put(struct copybuf *c, const void *p, size_t n)
{
	if (c->failed)
		return;
	if (c->len + n > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 1 << 16;
		uint8_t *d;
		while (ncap < c->len + n)
			ncap *= 2;
		d = realloc(c->data, ncap);
		if (!d) {
			c->failed = true;
			return;
		}
		c->data = d;
		c->cap = ncap;
	}
	memcpy(c->data + c->len, p, n);
	c->len += n;
}

static void copy_i16(struct copybuf *c, int16_t v)
{
	uint16_t be = htobe16((uint16_t)v);
	copy_put(c, &be, 2);
}

static void copy_i32(struct copybuf *c, int32_t v)
{
	uint32_t be = htobe32((uint32_t)v);
	copy_put(c, &be, 4);
}

static void copy_i64_field(struct copybuf *c, int64_t v)
{
	uint64_t be = htobe64((uint64_t)v);
	copy_i32(c, 8);
	copy_put(c, &be, 8);
}

static void copy_text_field(struct copybuf *c, const char *s)
{
	size_t n = strlen(s ? s : "");
	copy_i32(c, (int32_t)n);
	copy_put(c, s ? s : "", n);
}

/* Binary jsonb is a version byte (1) followed by the JSON text. */
static void copy_jsonb_field(struct copybuf *c, const char *json)
{
	size_t n = strlen(json);
	uint8_t version = 1;
	copy_i32(c, (int32_t)(n + 1));
	copy_put(c, &version, 1);
	copy_put(c, json, n);
}

/* Microseconds since 2000-01-01, PostgreSQL's timestamp epoch. */
static int64_t pg_timestamp(int64_t unix_ns)
{
	return unix_ns / 1000 - 946684800LL * 1000000;
}

static int copy_event(struct copybuf *c, const Armorsmith__V1__BehaviorEvent *ev)
{
	const char *kind;
	json_t *b = event_behavior_json(ev, &kind);
	char *payload;

	if (!b) {
		log_warn("store: event %s has no behavior, skipped", ev->event_id);
		return -EINVAL;
	}
	payload = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b);
	if (!payload) {
		log_warn("store: event %s cannot be encoded as JSON (invalid UTF-8?), skipped",
			 ev->event_id);
		return -EINVAL;
	}
	copy_i16(c, 12);
	copy_text_field(c, ev->event_id);
	copy_text_field(c, ev->policy_key);
	copy_i64_field(c, (int64_t)ev->generation);
	copy_text_field(c, ev->node);
	copy_text_field(c, kind);
	copy_text_field(c, store_source_name(ev->source));
	copy_i64_field(c, pg_timestamp(ev->time_unix_nano));
	copy_i64_field(c, ev->pid);
	copy_text_field(c, ev->comm);
	copy_text_field(c, ev->container_id);
	copy_i64_field(c, (int64_t)ev->cgroup_id);
	copy_jsonb_field(c, payload);
	free(payload);
	return c->failed ? -ENOMEM : 0;
}

/* COPYs the batch's events into merge_staging and merges them in one
 * statement (armorsmith_merge_staged, migration 003). */
static int merge_events(struct store *st, const struct store_batch *b, size_t *merged)
{
	static const char header[] = "PGCOPY\n\377\r\n";
	struct copybuf c = {0};
	PGresult *res;
	int rc;

	*merged = 0;
	if (!b->n_events)
		return 0;
	copy_put(&c, header, 11);
	copy_i32(&c, 0); /* flags */
	copy_i32(&c, 0); /* header extension length */
	for (size_t i = 0; i < b->n_events; i++) {
		rc = copy_event(&c, b->events[i]);
		if (rc == -ENOMEM)
			goto out;
	}
	copy_i16(&c, -1);
	if (c.failed) {
		rc = -ENOMEM;
		goto out;
	}
	res = PQexec(st->conn, "COPY merge_staging FROM STDIN (FORMAT binary)");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		log_error("store: cannot start copy: %s", PQerrorMessage(st->conn));
		PQclear(res);
		rc = -EIO;
		goto out;
	}
	PQclear(res);
	if (PQputCopyData(st->conn, (const char *)c.data, (int)c.len) != 1 ||
	    PQputCopyEnd(st->conn, NULL) != 1) {
		log_error("store: copy failed: %s", PQerrorMessage(st->conn));
		rc = -EIO;
		goto out;
	}
	res = PQgetResult(st->conn);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -EIO;
	if (rc)
		log_error("store: copy into staging failed: %s", PQerrorMessage(st->conn));
	PQclear(res);
	while ((res = PQgetResult(st->conn)))
		PQclear(res);
	if (rc)
		goto out;
	res = store_query(st, "SELECT armorsmith_merge_staged()", 0, NULL);
	if (!res) {
		rc = -EIO;
		goto out;
	}
	*merged = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
out:
	free(c.data);
	return rc;
}

static const char *report_phase_name(Armorsmith__V1__NodeReport__Phase p)
{
	switch (p) {
	case ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_JOINED:
		return "Joined";
	case ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_COMPLETED:
		return "Completed";
	case ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_FAILED:
		return "Failed";
	default:
		return NULL;
	}
}

static int merge_report(struct store *st, const Armorsmith__V1__NodeReport *r)
{
	char gen[24], pub[24], seen[24], lost[24], at[40];
	const char *phase = report_phase_name(r->phase);
	const char *params[10];
	PGresult *res;

	if (!phase) {
		log_warn("store: node report from %s has no phase, skipped", r->node);
		return 0;
	}
	snprintf(gen, sizeof(gen), "%" PRIu64, r->generation);
	snprintf(pub, sizeof(pub), "%" PRIu64, r->events_published);
	snprintf(seen, sizeof(seen), "%" PRIu64, r->records_seen);
	snprintf(lost, sizeof(lost), "%" PRIu64, r->audit_lost);
	format_time(r->time_unix_nano, at, sizeof(at));
	params[0] = r->policy_key;
	params[1] = gen;
	params[2] = r->node;
	params[3] = phase;
	params[4] = pub;
	params[5] = seen;
	params[6] = lost;
	params[7] = r->message;
	params[8] = at;
	params[9] = r->report_id;
	res = store_query(
	    st,
	    "INSERT INTO node_reports (policy_key, generation, node, phase,"
	    " events_published, records_seen, audit_lost, message, reported_at, report_id)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9::float8), $10)"
	    " ON CONFLICT (policy_key, generation, node, phase) DO NOTHING",
	    10, params);
	if (!res)
		return -EIO;
	PQclear(res);
	return 0;
}

static int merge_control(struct store *st, const Armorsmith__V1__ModelingControl *c)
{
	char gen[24], dur[24], start[40], deadline[40];
	const char *params[10];
	json_t *srcs = json_array(), *target;
	char *srcs_s = NULL, *target_s = NULL;
	PGresult *res;
	int rc = -ENOMEM;
	const Armorsmith__V1__Target *t = c->target;

	for (size_t i = 0; i < c->n_sources; i++)
		json_array_append_new(srcs, json_string(store_source_name(c->sources[i])));
	target = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "kind", t ? t->kind : "", "name",
			   t ? t->name : "", "selector", t ? t->selector_json : "", "cgroup_path",
			   t ? t->cgroup_path : "", "audit_session",
			   (json_int_t)(t ? t->audit_session : 0), "root_pid",
			   (json_int_t)(t ? t->root_pid : 0), "node", t ? t->node : "");
	srcs_s = json_dumps(srcs, JSON_COMPACT);
	target_s = target ? json_dumps(target, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!srcs_s || !target_s)
		goto out;
	snprintf(gen, sizeof(gen), "%" PRIu64, c->generation);
	snprintf(dur, sizeof(dur), "%" PRId64, c->duration_seconds);
	format_time(c->start_unix_nano, start, sizeof(start));
	format_time(c->deadline_unix_nano, deadline, sizeof(deadline));
	params[0] = c->policy_key;
	params[1] = gen;
	params[2] = c->profile_name;
	params[3] = c->namespace_;
	params[4] = c->enforcer;
	params[5] = srcs_s;
	params[6] = target_s;
	params[7] = dur;
	params[8] = start;
	params[9] = deadline;
	/* A completed run keeps its result: restarting modeling bumps the generation. */
	res = store_query(
	    st,
	    "INSERT INTO modeling_runs (policy_key, generation, profile_name, namespace, enforcer,"
	    " sources, target, duration_seconds, started_at, deadline)"
	    " VALUES ($1, $2, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)),"
	    " $7::jsonb, $8, to_timestamp($9::float8), to_timestamp($10::float8))"
	    " ON CONFLICT (policy_key, generation) DO UPDATE SET"
	    " deadline = excluded.deadline, duration_seconds = excluded.duration_seconds,"
	    " target = excluded.target"
	    " WHERE modeling_runs.status = 'Modeling'",
	    10, params);
	rc = res ? 0 : -EIO;
	PQclear(res);
out:
	free(srcs_s);
	free(target_s);
	json_decref(srcs);
	json_decref(target);
	return rc;
}

static int merge_offsets(struct store *st, const char *group, const struct store_batch *b)
{
	for (size_t i = 0; i < b->n_offsets; i++) {
		char part[16], off[24];
		const char *params[4] = {group, b->offsets[i].topic, part, off};
		PGresult *res;

		snprintf(part, sizeof(part), "%d", b->offsets[i].partition);
		snprintf(off, sizeof(off), "%" PRId64, b->offsets[i].next_offset);
		res = store_query(
		    st,
		    "INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition,"
		    " next_offset) VALUES ($1, $2, $3, $4)"
		    " ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE"
		    " SET next_offset = greatest(consumer_offsets.next_offset,"
		    " excluded.next_offset)",
		    4, params);
		if (!res)
			return -EIO;
		PQclear(res);
	}
	return 0;
}

int store_merge_batch(struct store *st, const char *group, struct store_batch *b, size_t *merged)
{
	size_t n_new = 0;
	int rc;

	if (store_exec(st, "BEGIN"))
		return -EIO;
	/* Controls first: a run's row exists before events that name it. */
	for (size_t i = 0; i < b->n_controls; i++)
		if ((rc = merge_control(st, b->controls[i])) < 0)
			goto rollback;
	if ((rc = merge_events(st, b, &n_new)) < 0)
		goto rollback;
	/* Reports last: a Completed report never lands before the events it covers. */
	for (size_t i = 0; i < b->n_reports; i++)
		if ((rc = merge_report(st, b->reports[i])) < 0)
			goto rollback;
	if ((rc = merge_offsets(st, group, b)) < 0)
		goto rollback;
	if (store_exec(st, "COMMIT"))
		return -EIO;
	if (merged)
		*merged = n_new;
	return 0;
rollback:
	store_exec(st, "ROLLBACK");
	return rc;
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

	format_time(now_ns, now, sizeof(now));
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
			" (SELECT count(*) FROM behavior_history h WHERE h.policy_key = $1"
			"  AND h.generation = $2),"
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
	    "behavior_history",	   "merged_syscalls", "merged_executions", "merged_files",
	    "merged_capabilities", "merged_network",  "merged_ptrace",	   "merged_signals",
	    "merged_mounts",	   "node_reports",
	};
	const char *params[1] = {policy_key};
	char sql[256];

	if (store_exec(st, "BEGIN"))
		return -EIO;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		PGresult *res;
		snprintf(sql, sizeof(sql),
			 "DELETE FROM %s WHERE $1::text IS NULL OR policy_key = $1", tables[i]);
		res = store_query(st, sql, 1, params);
		if (!res) {
			store_exec(st, "ROLLBACK");
			return -EIO;
		}
		PQclear(res);
	}
	return store_exec(st, "COMMIT") ? -EIO : 0;
}
