/* Store tests against a real PostgreSQL (ARMORSMITH_PG_DSN, as started by
 * deploy/local/services.sh). Each run works in a database of its own. */
#include "store.h"
#include "testing.h"

#include <errno.h>
#include "timeutil.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char test_dsn[512];

static PGconn *admin_connect(const char *dsn)
{
	PGconn *c = PQconnectdb(dsn);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "store_test: cannot reach postgresql at '%s': %s", dsn,
			PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

static int admin_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "store_test: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

static long count_rows(const char *sql)
{
	PGconn *c = admin_connect(test_dsn);
	PGresult *r;
	long n = -1;

	if (!c)
		return -1;
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return n;
}

static char *query_text(const char *sql)
{
	static char buf[256];
	PGconn *c = admin_connect(test_dsn);
	PGresult *r;

	buf[0] = '\0';
	if (!c)
		return buf;
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		snprintf(buf, sizeof(buf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return buf;
}

#define MAX_EVENTS 8
static Armorsmith__V1__BehaviorEvent events[MAX_EVENTS];
static Armorsmith__V1__SyscallBehavior syscalls[MAX_EVENTS];
static Armorsmith__V1__FileBehavior files[MAX_EVENTS];
static char ids[MAX_EVENTS][32];

static void make_syscall(int i, const char *name, int64_t t)
{
	armorsmith__v1__behavior_event__init(&events[i]);
	armorsmith__v1__syscall_behavior__init(&syscalls[i]);
	snprintf(ids[i], sizeof(ids[i]), "node-a/1/%d", i);
	syscalls[i].name = (char *)name;
	syscalls[i].arch = "x86_64";
	events[i].event_id = ids[i];
	events[i].policy_key = "default/demo";
	events[i].generation = 1;
	events[i].node = "node-a";
	events[i].time_unix_nano = t;
	events[i].source = ARMORSMITH__V1__SOURCE__SOURCE_SECCOMP_AUDIT;
	events[i].behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL;
	events[i].syscall = &syscalls[i];
}

static void make_file(int i, const char *path, const char *perms, int64_t t)
{
	make_syscall(i, "", t);
	armorsmith__v1__file_behavior__init(&files[i]);
	files[i].path = (char *)path;
	files[i].permissions = (char *)perms;
	files[i].owner = true;
	events[i].behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE;
	events[i].file = &files[i];
}

static struct store_batch *make_batch(Armorsmith__V1__ModelingControl *ctl,
				      Armorsmith__V1__NodeReport *joined,
				      Armorsmith__V1__NodeReport *done, int64_t next_offset)
{
	struct store_batch *b = store_batch_new();

	store_batch_add_control(b, ctl);
	store_batch_add_report(b, joined);
	for (int i = 0; i < 5; i++)
		store_batch_add_event(b, &events[i]);
	store_batch_add_report(b, done);
	store_batch_add_offset(b, "armorsmith.behavior.v1", 2, next_offset - 3);
	store_batch_add_offset(b, "armorsmith.behavior.v1", 2, next_offset);
	return b;
}

static void test_merge_is_idempotent(struct store *st)
{
	Armorsmith__V1__ModelingControl ctl = ARMORSMITH__V1__MODELING_CONTROL__INIT;
	Armorsmith__V1__NodeReport joined = ARMORSMITH__V1__NODE_REPORT__INIT;
	Armorsmith__V1__NodeReport done = ARMORSMITH__V1__NODE_REPORT__INIT;
	int64_t t0 = 1764300000LL * NSEC_PER_SEC;
	struct store_batch *b;
	struct behavior_model m;
	struct store_run *runs = NULL;
	size_t merged = 99, nruns = 0;
	int64_t off = 0;

	ctl.policy_key = "default/demo";
	ctl.profile_name = "demo";
	ctl.namespace_ = "default";
	ctl.enforcer = "Seccomp";
	ctl.generation = 1;
	ctl.start_unix_nano = t0;
	ctl.deadline_unix_nano = t0 + 10 * NSEC_PER_SEC;
	joined.policy_key = done.policy_key = "default/demo";
	joined.generation = done.generation = 1;
	joined.node = done.node = "node-a";
	joined.phase = ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_JOINED;
	done.phase = ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_COMPLETED;
	joined.report_id = "node-a/1/r0";
	done.report_id = "node-a/1/r1";
	joined.time_unix_nano = t0;
	done.time_unix_nano = t0 + 11 * NSEC_PER_SEC;

	make_syscall(0, "execve", t0 + 1);
	make_syscall(1, "brk", t0 + 2);
	make_syscall(2, "brk", t0 + 3); /* same behavior from a second event */
	make_file(3, "/etc/hostname", "r", t0 + 4);
	make_file(4, "/etc/hostname", "w", t0 + 5);

	b = make_batch(&ctl, &joined, &done, 42);
	CHECK(store_merge_batch(st, "test-group", b, &merged) == 0);
	CHECK(merged == 5);
	store_batch_free(b);

	/* The same batch again, as a redelivery after a crash, changes nothing. */
	b = make_batch(&ctl, &joined, &done, 42);
	CHECK(store_merge_batch(st, "test-group", b, &merged) == 0);
	CHECK(merged == 0);
	store_batch_free(b);

	CHECK(count_rows("SELECT count(*) FROM behavior_history") == 5);
	CHECK(count_rows("SELECT count(*) FROM merged_syscalls") == 2);
	CHECK(count_rows("SELECT hit_count FROM merged_syscalls WHERE name = 'brk'") == 2);
	CHECK(count_rows("SELECT count(*) FROM merged_files") == 1);
	CHECK_STR(query_text("SELECT permissions FROM merged_files"), "rw");
	CHECK_STR(query_text("SELECT array_to_string(nodes, ',') FROM merged_syscalls"
			     " WHERE name = 'execve'"),
		  "node-a");
	CHECK(count_rows("SELECT count(*) FROM node_reports") == 2);
	CHECK(store_load_offset(st, "test-group", "armorsmith.behavior.v1", 2, &off) == 0);
	CHECK(off == 42);
	CHECK(store_load_offset(st, "test-group", "armorsmith.behavior.v1", 3, &off) == -ENOENT);

	CHECK(store_list_due_runs(st, t0 + 5 * NSEC_PER_SEC, &runs, &nruns) == 0);
	CHECK(nruns == 0);
	free(runs);
	CHECK(store_list_due_runs(st, t0 + 20 * NSEC_PER_SEC, &runs, &nruns) == 0);
	CHECK(nruns == 1 && runs[0].joined == 1 && runs[0].reported == 1);
	free(runs);

	CHECK(store_load_model(st, "default/demo", 1, &m) == 0);
	CHECK(m.syscalls.len == 2);
	CHECK_STR(m.syscalls.items[0], "brk");
	CHECK_STR(m.syscalls.items[1], "execve");
	CHECK(m.n_files == 1 && m.files[0].owner);
	CHECK_STR(m.profile_name, "demo");
	CHECK(m.desired_nodes == 1 && m.completed_nodes == 1);
	CHECK(m.failed_nodes.len == 0);
	behavior_model_free(&m);

	CHECK(store_mark_completed(st, "default/demo", 1, "profile", "{}") == 0);
	CHECK(store_list_due_runs(st, t0 + 20 * NSEC_PER_SEC, &runs, &nruns) == 0);
	CHECK(nruns == 0);
	free(runs);
	CHECK(store_load_model(st, "default/missing", 1, &m) == -ENOENT);
}

/* Nodes that never reported, or reported an incomplete capture, become
 * conditions in the model; a clean report does not. */
static void test_silent_and_incomplete_nodes(struct store *st)
{
	Armorsmith__V1__ModelingControl ctl = ARMORSMITH__V1__MODELING_CONTROL__INIT;
	Armorsmith__V1__NodeReport r[5];
	const char *nodes[] = {"node-a", "node-b", "node-c"};
	struct store_batch *b = store_batch_new();
	struct behavior_model m;
	char ids[5][16];

	ctl.policy_key = "default/multi";
	ctl.profile_name = "multi";
	ctl.namespace_ = "default";
	ctl.enforcer = "Seccomp";
	ctl.generation = 3;
	ctl.start_unix_nano = 1764300000LL * NSEC_PER_SEC;
	ctl.deadline_unix_nano = ctl.start_unix_nano + NSEC_PER_SEC;
	store_batch_add_control(b, &ctl);
	for (int i = 0; i < 5; i++) {
		armorsmith__v1__node_report__init(&r[i]);
		snprintf(ids[i], sizeof(ids[i]), "r%d", i);
		r[i].policy_key = "default/multi";
		r[i].generation = 3;
		r[i].report_id = ids[i];
		r[i].time_unix_nano = ctl.start_unix_nano;
		r[i].node = (char *)nodes[i < 3 ? i : i - 3];
		r[i].phase = i < 3 ? ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_JOINED
				   : ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_COMPLETED;
		store_batch_add_report(b, &r[i]);
	}
	/* node-a clean, node-b lost records, node-c silent. */
	r[4].message = "the kernel lost 7 audit records during the run";
	CHECK(store_merge_batch(st, "test-group", b, NULL) == 0);
	store_batch_free(b);
	CHECK(store_load_model(st, "default/multi", 3, &m) == 0);
	CHECK(m.desired_nodes == 3 && m.completed_nodes == 2);
	CHECK(m.failed_nodes.len == 2);
	if (m.failed_nodes.len == 2) {
		CHECK_STR(m.failed_nodes.items[0],
			  "node-b: the kernel lost 7 audit records during the run");
		CHECK_STR(m.failed_nodes.items[1],
			  "node-c: node joined the run but never reported");
	}
	behavior_model_free(&m);
}

static void test_reopen_keeps_schema(void)
{
	struct store *st = NULL;
	char err[512];

	CHECK(store_open(test_dsn, &st, err, sizeof(err)) == 0);
	CHECK(st && store_schema_version(st) >= 1);
	store_close(st);
	CHECK(store_open("host=127.0.0.1 port=1 dbname=x connect_timeout=2", &st, err,
			 sizeof(err)) < 0);
	CHECK(strstr(err, "postgresql unreachable") != NULL);
}

int main(void)
{
	const char *dsn = getenv("ARMORSMITH_PG_DSN");
	char db[64], sql[128], err[512];
	struct store *st = NULL;
	PGconn *admin;

	if (!dsn) {
		fprintf(stderr, "store_test: ARMORSMITH_PG_DSN is not set; start postgresql with "
				"deploy/local/services.sh up and export its env\n");
		return 1;
	}
	admin = admin_connect(dsn);
	if (!admin)
		return 1;
	snprintf(db, sizeof(db), "armorsmith_store_test_%d", (int)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	admin_exec(admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	if (admin_exec(admin, sql)) {
		PQfinish(admin);
		return 1;
	}
	snprintf(test_dsn, sizeof(test_dsn), "%s dbname=%s", dsn, db);

	CHECK(store_open(test_dsn, &st, err, sizeof(err)) == 0);
	if (st) {
		test_merge_is_idempotent(st);
		test_silent_and_incomplete_nodes(st);
		store_close(st);
	}
	test_reopen_keeps_schema();

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	admin_exec(admin, sql);
	PQfinish(admin);
	return TEST_SUMMARY();
}
