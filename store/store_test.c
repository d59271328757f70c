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

#define TOPIC "armorsmith.behavior.v1"
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

	/* offsets next_offset - 7 (Joined) to next_offset - 1 (Completed) */
	store_batch_add_control(b, ctl);
	store_batch_add_report(b, joined);
	store_batch_note_message(b, TOPIC, 2, next_offset - 7);
	for (int i = 0; i < 5; i++)
		store_batch_add_event(b, &events[i], TOPIC, 2, next_offset - 6 + i);
	store_batch_add_report(b, done);
	store_batch_note_message(b, TOPIC, 2, next_offset - 1);
	store_batch_add_offset(b, TOPIC, 2, next_offset - 3);
	store_batch_add_offset(b, TOPIC, 2, next_offset);
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
		/* node-a clean, node-b lost records, node-c silent. */
		if (i == 4)
			r[i].message = "the kernel lost 7 audit records during the run";
		store_batch_add_report(b, &r[i]);
	}
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

/* One event per offset from..to of partition 3, file behaviors cycling over
 * three paths, from node (two nodes give two events per behavior). */
static struct store_batch *file_batch(const char *key, int64_t from, int64_t to, const char *node)
{
	static const char *const paths[] = {"/etc/a", "/etc/b", "/etc/c"};
	static const char *const perms[] = {"r", "w", "m"};
	struct store_batch *b = store_batch_new();

	for (int64_t o = from; o <= to; o++) {
		Armorsmith__V1__BehaviorEvent ev = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
		Armorsmith__V1__FileBehavior f = ARMORSMITH__V1__FILE_BEHAVIOR__INIT;
		char id[64];

		snprintf(id, sizeof(id), "%s/1/%lld", node, (long long)o);
		f.path = (char *)paths[o % 3];
		f.permissions = (char *)perms[(o / 3) % 3];
		ev.policy_key = (char *)key;
		ev.generation = 1;
		ev.node = (char *)node;
		ev.event_id = id;
		ev.time_unix_nano = 1764300000LL * NSEC_PER_SEC + o * 1000;
		ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE;
		ev.file = &f;
		CHECK(store_batch_add_event(b, &ev, TOPIC, 3, o) == 0);
	}
	return b;
}

static long count_for(const char *fmt, const char *key)
{
	char sql[512];

	snprintf(sql, sizeof(sql), fmt, key);
	return count_rows(sql);
}

/* A message is merged once by its Kafka coordinates, whichever group (or
 * replay) brings it again and however batches overlap. */
static void test_exactly_once_by_offset(struct store *st)
{
	const char *key = "default/ranges";
	struct store_batch *b;
	size_t merged = 0;

	b = file_batch(key, 100, 109, "node-a");
	CHECK(store_merge_batch(st, "g1", b, &merged) == 0 && merged == 10);
	store_batch_free(b);
	/* Overlapping the first batch: only 110..119 are new. */
	b = file_batch(key, 105, 119, "node-a");
	CHECK(store_merge_batch(st, "g1", b, &merged) == 0 && merged == 10);
	store_batch_free(b);
	/* Another group from the start of the partition: nothing is new. */
	b = file_batch(key, 100, 119, "node-a");
	CHECK(store_merge_batch(st, "g2", b, &merged) == 0 && merged == 0);
	store_batch_free(b);
	/* The same offset twice in one batch (a rebalance mid-batch). */
	b = file_batch(key, 120, 121, "node-a");
	{
		Armorsmith__V1__BehaviorEvent ev = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
		Armorsmith__V1__CapabilityBehavior c = ARMORSMITH__V1__CAPABILITY_BEHAVIOR__INIT;
		c.name = "chown";
		ev.policy_key = (char *)key;
		ev.generation = 1;
		ev.node = "node-a";
		ev.event_id = "dup";
		ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY;
		ev.capability = &c;
		CHECK(store_batch_add_event(b, &ev, TOPIC, 3, 121) == 0);
	}
	CHECK(store_merge_batch(st, "g1", b, &merged) == 0 && merged == 2);
	store_batch_free(b);

	CHECK(count_for("SELECT count(*) FROM behavior_history WHERE policy_key = '%s'", key) ==
	      22);
	CHECK(count_for("SELECT count(DISTINCT kafka_offset) FROM behavior_history"
			" WHERE policy_key = '%s'",
			key) == 22);
	CHECK(count_for("SELECT sum(hit_count) FROM merged_files WHERE policy_key = '%s'", key) ==
	      22);
	CHECK(count_for("SELECT count(*) FROM merged_capabilities WHERE policy_key = '%s'", key) ==
	      0);
	/* Offsets 100..121 were merged by four batches: one range remains. */
	CHECK(count_for("SELECT count(*) FROM merged_ranges r JOIN run_keys k USING (run_id)"
			" WHERE k.policy_key = '%s'",
			key) == 1);
	CHECK_STR(
	    query_text("SELECT first_offset || '-' || last_offset FROM merged_ranges r"
		       " JOIN run_keys k USING (run_id) WHERE k.policy_key = 'default/ranges'"),
	    "100-121");
	/* Offsets 0..21 cycle over r, w, m for each path: each path has all three. */
	CHECK(count_for("SELECT count(*) FROM merged_files WHERE policy_key = '%s'"
			" AND permissions = 'mrw'",
			key) == 3);
	CHECK(count_for("SELECT events_merged FROM run_keys WHERE policy_key = '%s'", key) == 22);

	/* A second node's events for the same behaviors join the nodes. */
	b = file_batch(key, 200, 202, "node-b");
	CHECK(store_merge_batch(st, "g1", b, &merged) == 0 && merged == 3);
	store_batch_free(b);
	CHECK_STR(query_text("SELECT array_to_string(nodes, ',') FROM merged_files"
			     " WHERE policy_key = 'default/ranges' AND path = '/etc/a'"),
		  "node-a,node-b");

	/* A reset (what replay does) forgets the ranges too: the same
	 * messages merge again, once. */
	CHECK(store_reset_projection(st, key) == 0);
	CHECK(count_for("SELECT count(*) FROM behavior_history WHERE policy_key = '%s'", key) == 0);
	b = file_batch(key, 100, 121, "node-a");
	CHECK(store_merge_batch(st, NULL, b, &merged) == 0 && merged == 22);
	store_batch_free(b);
	b = file_batch(key, 100, 121, "node-a");
	CHECK(store_merge_batch(st, NULL, b, &merged) == 0 && merged == 0);
	store_batch_free(b);
	CHECK(count_for("SELECT sum(hit_count) FROM merged_files WHERE policy_key = '%s'", key) ==
	      22);
}

/* History keeps each event's behavior as JSON the view reads as jsonb, with
 * hostile strings intact, in the partition of its UTC day. */
static void test_history_rows_and_retention(struct store *st)
{
	const char *key = "default/history";
	const char *name = "/tmp/a \"quoted\"\nname\\\t\x01";
	Armorsmith__V1__BehaviorEvent ev = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
	Armorsmith__V1__FileBehavior f = ARMORSMITH__V1__FILE_BEHAVIOR__INIT;
	Armorsmith__V1__NetworkBehavior n = ARMORSMITH__V1__NETWORK_BEHAVIOR__INIT;
	struct store_batch *b = store_batch_new();
	int64_t old = (1764300000LL - 40 * 86400) * NSEC_PER_SEC;
	size_t merged = 0;
	int dropped = -1;

	f.path = (char *)name;
	f.permissions = "rw";
	f.owner = true;
	ev.policy_key = (char *)key;
	ev.generation = 4;
	ev.node = "node-a";
	ev.event_id = "h/1";
	ev.cgroup_id = UINT64_MAX - 1;
	ev.time_unix_nano = old;
	ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE;
	ev.file = &f;
	CHECK(store_batch_add_event(b, &ev, TOPIC, 0, 7) == 0);
	n.family = "inet";
	n.sock_type = "stream";
	n.protocol = "tcp";
	n.operation = "connect";
	n.address = "10.0.0.1";
	n.port = 443;
	ev.event_id = "h/2";
	ev.time_unix_nano = 1764300000LL * NSEC_PER_SEC;
	ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_NETWORK;
	ev.network = &n;
	CHECK(store_batch_add_event(b, &ev, TOPIC, 0, 8) == 0);
	CHECK(store_merge_batch(st, NULL, b, &merged) == 0 && merged == 2);
	store_batch_free(b);

	CHECK(
	    count_rows("SELECT count(*) FROM behavior_history WHERE policy_key = 'default/history'"
		       " AND behavior->>'path' = E'/tmp/a \"quoted\"\\nname\\\\\\t\\x01'"
		       " AND behavior->>'permissions' = 'rw' AND (behavior->>'owner')::boolean"
		       " AND cgroup_id = 18446744073709551614") == 1);
	CHECK(count_rows("SELECT count(*) FROM merged_files WHERE policy_key = 'default/history'"
			 " AND path = E'/tmp/a \"quoted\"\\nname\\\\\\t\\x01'") == 1);
	CHECK_STR(query_text("SELECT behavior::text FROM behavior_history"
			     " WHERE policy_key = 'default/history' AND kind = 'network'"),
		  "{\"port\": 443, \"family\": \"inet\", \"address\": \"10.0.0.1\", \"protocol\": "
		  "\"tcp\", \"operation\": \"connect\", \"sock_type\": \"stream\"}");
	/* Each row lies in its day's partition. */
	CHECK(count_rows("SELECT count(*) FROM event_history_20251019") == 1);
	CHECK(count_rows("SELECT count(*) FROM event_history_20251128 h JOIN run_keys k"
			 " USING (run_id) WHERE k.policy_key = 'default/history'") == 1);

	/* Days that are over get their BRIN index, the current day none. */
	int sealed;

	CHECK(store_history_seal(st, 1764300000LL * NSEC_PER_SEC, &sealed) == 0 && sealed >= 1);
	CHECK(
	    count_rows("SELECT count(*) FROM pg_indexes WHERE tablename = 'event_history_20251019'"
		       " AND indexdef LIKE '%USING brin (observed_at, run_id%'") == 1);
	CHECK(count_rows(
		  "SELECT count(*) FROM pg_indexes WHERE tablename = 'event_history_20251128'") ==
	      0);
	/* autovacuum leaves the day being written alone, not the sealed ones */
	CHECK(count_rows("SELECT count(*) FROM pg_class WHERE relname = 'event_history_20251128'"
			 " AND 'autovacuum_enabled=false' = ANY (reloptions)") == 1);
	CHECK(count_rows("SELECT count(*) FROM pg_class WHERE relname = 'event_history_20251019'"
			 " AND reloptions IS NULL") == 1);
	CHECK(store_history_seal(st, 1764300000LL * NSEC_PER_SEC, &sealed) == 0 && sealed == 0);
	CHECK(store_history_seal(st, (1764300000LL + 86400) * NSEC_PER_SEC, &sealed) == 0 &&
	      sealed >= 1);
	CHECK(count_rows(
		  "SELECT count(*) FROM pg_indexes WHERE tablename = 'event_history_20251128'") ==
	      1);

	/* A 30-day retention drops the old day, and nothing else. */
	CHECK(store_history_expire(st, 1764300000LL * NSEC_PER_SEC, 30 * 86400 * NSEC_PER_SEC,
				   &dropped) == 0);
	CHECK(dropped >= 1);
	CHECK(count_rows(
		  "SELECT count(*) FROM pg_class WHERE relname = 'event_history_20251019'") == 0);
	CHECK(count_rows(
		  "SELECT count(*) FROM behavior_history WHERE policy_key = 'default/history'") ==
	      1);
	CHECK(count_rows(
		  "SELECT count(*) FROM merged_files WHERE policy_key = 'default/history'") == 1);
	/* An event of the dropped day makes its partition again. */
	b = store_batch_new();
	ev.time_unix_nano = old;
	ev.event_id = "h/3";
	CHECK(store_batch_add_event(b, &ev, TOPIC, 0, 9) == 0);
	CHECK(store_merge_batch(st, NULL, b, &merged) == 0 && merged == 1);
	store_batch_free(b);
	CHECK(count_rows("SELECT count(*) FROM event_history_20251019") == 1);
	CHECK(store_history_expire(st, 1764300000LL * NSEC_PER_SEC, 0, &dropped) == 0 &&
	      dropped == 0);

	/* Another worker's retention drops a partition this one has made: the
	 * batch that finds it gone is retried and makes it again, it does not
	 * fail forever. */
	struct store *other = NULL;
	char err[256];
	int rc;

	CHECK(store_open(test_dsn, &other, err, sizeof(err)) == 0);
	if (!other)
		return;
	CHECK(store_history_expire(other, 1764300000LL * NSEC_PER_SEC, 30 * 86400 * NSEC_PER_SEC,
				   &dropped) == 0 &&
	      dropped == 1);
	b = store_batch_new();
	ev.event_id = "h/4";
	CHECK(store_batch_add_event(b, &ev, TOPIC, 0, 10) == 0);
	rc = store_merge_batch(st, NULL, b, &merged);
	if (rc < 0)
		rc = store_merge_batch(st, NULL, b, &merged);
	CHECK(rc == 0 && merged == 1);
	store_batch_free(b);
	CHECK(count_rows("SELECT count(*) FROM event_history_20251019") == 1);
	store_close(other);
}

/* A batch's history rows are written grouped by run, whatever order the
 * runs' events arrived in, and policy_history() returns what the view does. */
static void test_history_grouped_by_run(struct store *st)
{
	static const char *const keys[] = {"default/grp-a", "default/grp-b", "default/grp-c"};
	struct store_batch *b = store_batch_new();
	size_t merged = 0;

	for (int i = 0; i < 30; i++) {
		Armorsmith__V1__BehaviorEvent ev = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
		Armorsmith__V1__SyscallBehavior sc = ARMORSMITH__V1__SYSCALL_BEHAVIOR__INIT;
		char id[32];

		snprintf(id, sizeof(id), "grp/%d", i);
		sc.name = "read";
		sc.arch = "x86_64";
		ev.policy_key = (char *)keys[i % 3];
		ev.generation = 1;
		ev.node = "node-a";
		ev.event_id = id;
		ev.time_unix_nano = 1764300000LL * NSEC_PER_SEC + i;
		ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL;
		ev.syscall = &sc;
		CHECK(store_batch_add_event(b, &ev, "grp.topic", 0, i) == 0);
	}
	CHECK(store_merge_batch(st, NULL, b, &merged) == 0 && merged == 30);
	store_batch_free(b);
	/* Changes of run along the heap: 2 when grouped, 29 as they arrived. */
	CHECK(count_rows("SELECT count(*) FROM (SELECT run_id, lag(run_id) OVER (ORDER BY h.ctid) p"
			 " FROM event_history_20251128 h JOIN run_keys k USING (run_id)"
			 " WHERE k.policy_key LIKE 'default/grp-%') x WHERE run_id <> p") == 2);
	CHECK(count_rows("SELECT count(*) FROM policy_history('default/grp-b')") == 10);
	CHECK(count_rows("SELECT count(*) FROM ((SELECT * FROM policy_history('default/grp-b'))"
			 " EXCEPT (SELECT * FROM behavior_history"
			 " WHERE policy_key = 'default/grp-b')) x") == 0);
}

/* A schema-4 store (history keyed by event id, as 001-004 made it) moves to
 * the partitioned history with its rows, and the views read them as before. */
static void test_migration_keeps_history(PGconn *admin, const char *dsn)
{
	static const char *const old[] = {
	    "store/migrations/001_behavior_store.sql", "store/migrations/002_analyst_views.sql",
	    "store/migrations/003_bulk_merge.sql", "store/migrations/004_faster_merge.sql"};
	char db[64], sql[160], mdsn[600], err[512];
	struct store *st = NULL;
	PGconn *c;

	snprintf(db, sizeof(db), "armorsmith_store_mig_%d", (int)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	admin_exec(admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	if (admin_exec(admin, sql))
		return;
	snprintf(mdsn, sizeof(mdsn), "%s dbname=%s", dsn, db);
	c = admin_connect(mdsn);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(admin_exec(
		  c, "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
		     " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())") == 0);
	for (int i = 0; i < 4; i++) {
		char *text = testing_read_source_file(old[i]);
		char ins[128];
		CHECK(text && admin_exec(c, text) == 0);
		free(text);
		snprintf(ins, sizeof(ins), "INSERT INTO schema_migrations VALUES (%d, 'old')",
			 i + 1);
		admin_exec(c, ins);
	}
	CHECK(admin_exec(
		  c, "INSERT INTO behavior_history VALUES"
		     " ('n/1/1', 'default/old', 2, 'n', 'exec', 'bpf', '2025-11-02 10:00+00',"
		     "  7, 'sh', '', 18446744073709551615, '{\"path\": \"/bin/sh\"}'),"
		     " ('n/1/2', 'default/old', 2, 'n', 'syscall', 'bpf', '2025-11-03 10:00+00',"
		     "  7, 'sh', '', 5, '{\"name\": \"read\", \"arch\": \"x86_64\"}')") == 0);
	PQfinish(c);

	CHECK(store_open(mdsn, &st, err, sizeof(err)) == 0);
	if (st) {
		CHECK(store_schema_version(st) >= 5);
		store_close(st);
	}
	c = admin_connect(mdsn);
	if (c) {
		PGresult *r =
		    PQexec(c, "SELECT string_agg(event_id || ' ' || kind || ' ' ||"
			      " behavior::text || ' ' || cgroup_id, '; ' ORDER BY event_id)"
			      " FROM behavior_history WHERE policy_key = 'default/old'"
			      " AND generation = 2");
		CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
		if (PQntuples(r) == 1)
			CHECK_STR(PQgetvalue(r, 0, 0),
				  "n/1/1 exec {\"path\": \"/bin/sh\"} 18446744073709551615; "
				  "n/1/2 syscall {\"arch\": \"x86_64\", \"name\": \"read\"} 5");
		PQclear(r);
		r = PQexec(c, "SELECT count(*) FROM event_history_20251102");
		CHECK(PQresultStatus(r) == PGRES_TUPLES_OK &&
		      strcmp(PQgetvalue(r, 0, 0), "1") == 0);
		PQclear(r);
		/* A store newer than the program is refused, not half-used. */
		admin_exec(c, "INSERT INTO schema_migrations VALUES (999, 'from the future')");
		PQfinish(c);
	}
	st = NULL;
	CHECK(store_open(mdsn, &st, err, sizeof(err)) < 0);
	store_close(st);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	admin_exec(admin, sql);
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
		test_exactly_once_by_offset(st);
		test_history_rows_and_retention(st);
		test_history_grouped_by_run(st);
		store_close(st);
	}
	test_reopen_keeps_schema();
	test_migration_keeps_history(admin, dsn);

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	admin_exec(admin, sql);
	PQfinish(admin);
	return TEST_SUMMARY();
}
