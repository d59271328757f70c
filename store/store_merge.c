/* The merge of one batch, in one transaction: the ranges of Kafka offsets it
 * covers (exactly once, whoever delivered them before), the history rows
 * (COPYed into their day's partition), one row per distinct behavior into
 * the merged sets, controls, node reports and consumer offsets. */
#include "log.h"
#include "store_internal.h"
#include "timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- text[] and int[] parameters ----------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void sb_put(struct sbuf *b, const char *p, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;
		char *s;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		s = realloc(b->s, ncap);
		if (!s) {
			b->failed = true;
			return;
		}
		b->s = s;
		b->cap = ncap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* Appends one element of an array literal: numbers bare, strings quoted. */
static void sb_elem(struct sbuf *b, const char *v, bool quote)
{
	sb_put(b, b->len > 1 ? "," : "", b->len > 1);
	if (!quote) {
		sb_str(b, v);
		return;
	}
	sb_put(b, "\"", 1);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_put(b, "\\", 1);
		sb_put(b, p, 1);
	}
	sb_put(b, "\"", 1);
}

static void sb_elem_i64(struct sbuf *b, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	sb_elem(b, num, false);
}

/* The five array parameters of armorsmith_claimed_ranges/record_ranges. */
struct range_args {
	struct sbuf run, topic, part, first, last;
	size_t n;
};

static void range_args_init(struct range_args *a)
{
	memset(a, 0, sizeof(*a));
	sb_str(&a->run, "{");
	sb_str(&a->topic, "{");
	sb_str(&a->part, "{");
	sb_str(&a->first, "{");
	sb_str(&a->last, "{");
}

static void range_args_add(struct range_args *a, int32_t run, const char *topic, int32_t part,
			   int64_t first, int64_t last)
{
	sb_elem_i64(&a->run, run);
	sb_elem(&a->topic, topic, true);
	sb_elem_i64(&a->part, part);
	sb_elem_i64(&a->first, first);
	sb_elem_i64(&a->last, last);
	a->n++;
}

static bool range_args_close(struct range_args *a)
{
	sb_str(&a->run, "}");
	sb_str(&a->topic, "}");
	sb_str(&a->part, "}");
	sb_str(&a->first, "}");
	sb_str(&a->last, "}");
	return !(a->run.failed || a->topic.failed || a->part.failed || a->first.failed ||
		 a->last.failed);
}

static void range_args_free(struct range_args *a)
{
	free(a->run.s);
	free(a->topic.s);
	free(a->part.s);
	free(a->first.s);
	free(a->last.s);
}

/* --- run ids and partitions, outside the merge transaction --------------- */

static size_t runid_slot(const struct store *st, const char *key, uint64_t gen, uint64_t h)
{
	size_t s = h & (st->cap_runids - 1);

	while (st->runids[s].policy_key &&
	       (st->runids[s].generation != gen || strcmp(st->runids[s].policy_key, key) != 0))
		s = (s + 1) & (st->cap_runids - 1);
	return s;
}

static int runid_remember(struct store *st, const char *key, uint64_t gen, uint64_t h, int32_t id)
{
	size_t s;

	if ((st->n_runids + 1) * 2 > st->cap_runids) {
		size_t ncap = st->cap_runids ? st->cap_runids * 2 : 64;
		struct store_runid *old = st->runids, *g = calloc(ncap, sizeof(*g));
		size_t ocap = st->cap_runids;

		if (!g)
			return -ENOMEM;
		st->runids = g;
		st->cap_runids = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].policy_key)
				continue;
			uint64_t oh = store_hash_bytes(0xcbf29ce484222325ULL, old[i].policy_key,
						       strlen(old[i].policy_key)) ^
				      (old[i].generation * 0x9e3779b97f4a7c15ULL);
			st->runids[runid_slot(st, old[i].policy_key, old[i].generation, oh)] =
			    old[i];
		}
		free(old);
	}
	s = runid_slot(st, key, gen, h);
	if (st->runids[s].policy_key)
		return 0;
	st->runids[s].policy_key = strdup(key);
	if (!st->runids[s].policy_key)
		return -ENOMEM;
	st->runids[s].generation = gen;
	st->runids[s].run_id = id;
	st->n_runids++;
	return 0;
}

/* Fills b->runs[].run_id from the cache, asking PostgreSQL (which creates
 * the missing run_keys rows) for the others in one statement. */
static int resolve_runs(struct store *st, struct store_batch *b)
{
	struct sbuf keys = {0}, gens = {0};
	const char *params[2];
	PGresult *res;
	size_t missing = 0;
	int rc = 0;

	sb_str(&keys, "{");
	sb_str(&gens, "{");
	for (size_t i = 0; i < b->n_runs; i++) {
		struct batch_run *r = &b->runs[i];
		const char *key = batch_str(b, r->policy_key);

		r->run_id = 0;
		if (st->cap_runids) {
			size_t s = runid_slot(st, key, r->generation, r->hash);
			if (st->runids[s].policy_key) {
				r->run_id = st->runids[s].run_id;
				continue;
			}
		}
		sb_elem(&keys, key, true);
		sb_elem_i64(&gens, (int64_t)r->generation);
		missing++;
	}
	sb_str(&keys, "}");
	sb_str(&gens, "}");
	if (!missing || keys.failed || gens.failed) {
		rc = keys.failed || gens.failed ? -ENOMEM : 0;
		goto out;
	}
	params[0] = keys.s;
	params[1] = gens.s;
	/* DO UPDATE, not DO NOTHING: a row another worker inserted meanwhile
	 * must come back too. */
	res = store_query(st,
			  "INSERT INTO run_keys (policy_key, generation)"
			  " SELECT * FROM unnest($1::text[], $2::bigint[])"
			  " ON CONFLICT (policy_key, generation)"
			  " DO UPDATE SET generation = excluded.generation"
			  " RETURNING policy_key, generation, run_id",
			  2, params);
	if (!res) {
		rc = -EIO;
		goto out;
	}
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *key = PQgetvalue(res, i, 0);
		uint64_t gen = strtoull(PQgetvalue(res, i, 1), NULL, 10);
		uint64_t h = store_hash_bytes(0xcbf29ce484222325ULL, key, strlen(key)) ^
			     (gen * 0x9e3779b97f4a7c15ULL);
		rc = runid_remember(st, key, gen, h, (int32_t)atoi(PQgetvalue(res, i, 2)));
	}
	PQclear(res);
	for (size_t i = 0; i < b->n_runs && rc == 0; i++) {
		struct batch_run *r = &b->runs[i];
		size_t s;

		if (r->run_id)
			continue;
		s = runid_slot(st, batch_str(b, r->policy_key), r->generation, r->hash);
		if (!st->runids[s].policy_key) {
			log_error("store: no run id came back for %s generation %" PRIu64,
				  batch_str(b, r->policy_key), r->generation);
			rc = -EIO;
			break;
		}
		r->run_id = st->runids[s].run_id;
	}
out:
	free(keys.s);
	free(gens.s);
	return rc;
}

/* The UTC day (since 1970-01-01) of the microsecond the store keeps. */
static int32_t utc_day(int64_t unix_ns)
{
	int64_t us = unix_ns / 1000 - (unix_ns % 1000 < 0);
	int64_t day_us = 86400LL * 1000000;

	return (int32_t)(us / day_us - (us % day_us < 0));
}

static bool day_known(const struct store *st, int32_t day)
{
	for (size_t i = st->n_days; i-- > 0;)
		if (st->days[i] == day)
			return true;
	return false;
}

int store_history_partition(struct store *st, int32_t day)
{
	char date[16], sql[96];
	int64_t t = (int64_t)day * 86400;
	struct tm tm;
	time_t tt = (time_t)t;

	if (day_known(st, day))
		return 0;
	if (!gmtime_r(&tt, &tm))
		return -EINVAL;
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	snprintf(sql, sizeof(sql), "SELECT armorsmith_history_partition('%s')", date);
	if (store_exec(st, sql) < 0)
		return -EIO;
	if (st->n_days == st->cap_days) {
		size_t ncap = st->cap_days ? st->cap_days * 2 : 16;
		int32_t *d = realloc(st->days, ncap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		st->days = d;
		st->cap_days = ncap;
	}
	st->days[st->n_days++] = day;
	return 0;
}

static int ensure_partitions(struct store *st, const struct store_batch *b)
{
	int32_t last = INT32_MIN;
	int rc;

	for (size_t i = 0; i < b->n_events; i++) {
		int32_t day = utc_day(b->events[i].time_ns);
		if (day == last)
			continue;
		last = day;
		rc = store_history_partition(st, day);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* --- ranges: what is merged already, and what this batch covers ---------- */

struct claimed {
	int32_t run_id;
	int32_t part; /* index into b->parts */
	int64_t first, last;
};

struct claims {
	struct claimed *c;
	size_t n;
};

static int part_index(const struct store_batch *b, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < b->n_parts; i++)
		if (b->parts[i].partition == partition &&
		    strcmp(batch_str(b, b->parts[i].topic), topic) == 0)
			return (int)i;
	return -1;
}

/* The events' (run, partition, segment, offset), sorted: what the ranges
 * are read and recorded from. */
struct event_pos {
	uint32_t run, part, seg;
	int64_t offset;
};

static int event_pos_cmp(const void *a, const void *b)
{
	const struct event_pos *x = a, *y = b;

	if (x->run != y->run)
		return x->run < y->run ? -1 : 1;
	if (x->part != y->part)
		return x->part < y->part ? -1 : 1;
	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return (x->offset > y->offset) - (x->offset < y->offset);
}

static int index_events(const struct store_batch *b, struct event_pos **out)
{
	struct event_pos *pos = calloc(b->n_events ? b->n_events : 1, sizeof(*pos));

	if (!pos)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_events; i++) {
		const struct batch_event *e = &b->events[i];
		pos[i] = (struct event_pos){e->run, e->part, e->seg, e->offset};
	}
	qsort(pos, b->n_events, sizeof(*pos), event_pos_cmp);
	*out = pos;
	return 0;
}

/* Locks the batch's partitions and reads the ranges already merged. */
static int load_claims(struct store *st, const struct store_batch *b, const struct event_pos *pos,
		       struct claims *out)
{
	struct range_args a;
	const char *params[5];
	PGresult *res;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!b->n_events)
		return 0;
	range_args_init(&a);
	/* one entry per (run, partition): its lowest and highest offset */
	for (size_t i = 0, j; i < b->n_events; i = j) {
		const struct batch_part *p = &b->parts[pos[i].part];

		for (j = i + 1;
		     j < b->n_events && pos[j].run == pos[i].run && pos[j].part == pos[i].part; j++)
			;
		range_args_add(&a, b->runs[pos[i].run].run_id, batch_str(b, p->topic), p->partition,
			       pos[i].offset, pos[j - 1].offset);
	}
	if (!range_args_close(&a)) {
		rc = -ENOMEM;
		goto out;
	}
	params[0] = a.run.s;
	params[1] = a.topic.s;
	params[2] = a.part.s;
	params[3] = a.first.s;
	params[4] = a.last.s;
	res = store_query(st,
			  "SELECT * FROM armorsmith_claimed_ranges($1::int[], $2::text[],"
			  " $3::int[], $4::bigint[], $5::bigint[])",
			  5, params);
	if (!res) {
		rc = -EIO;
		goto out;
	}
	if (PQntuples(res) > 0) {
		out->c = calloc((size_t)PQntuples(res), sizeof(*out->c));
		if (!out->c) {
			PQclear(res);
			rc = -ENOMEM;
			goto out;
		}
	}
	for (int i = 0; i < PQntuples(res); i++) {
		int part = part_index(b, PQgetvalue(res, i, 1), atoi(PQgetvalue(res, i, 2)));
		if (part < 0)
			continue;
		out->c[out->n++] = (struct claimed){
		    .run_id = atoi(PQgetvalue(res, i, 0)),
		    .part = part,
		    .first = strtoll(PQgetvalue(res, i, 3), NULL, 10),
		    .last = strtoll(PQgetvalue(res, i, 4), NULL, 10),
		};
	}
	PQclear(res);
out:
	range_args_free(&a);
	return rc;
}

static bool event_claimed(const struct store_batch *b, const struct claims *c,
			  const struct batch_event *e)
{
	int32_t run_id = b->runs[e->run].run_id;

	for (size_t i = 0; i < c->n; i++)
		if (c->c[i].run_id == run_id && c->c[i].part == (int32_t)e->part &&
		    e->offset >= c->c[i].first && e->offset <= c->c[i].last)
			return true;
	return false;
}

/* Every segment of consumed offsets that held an event of a run becomes a
 * merged range of that run. */
static int record_ranges(struct store *st, const struct store_batch *b, const struct event_pos *pos)
{
	struct range_args a;
	const char *params[5];
	PGresult *res;
	int rc = 0;

	if (!b->n_events)
		return 0;
	range_args_init(&a);
	for (size_t i = 0; i < b->n_events; i++) {
		const struct batch_part *p = &b->parts[pos[i].part];

		if (i && pos[i].run == pos[i - 1].run && pos[i].part == pos[i - 1].part &&
		    pos[i].seg == pos[i - 1].seg)
			continue;
		range_args_add(&a, b->runs[pos[i].run].run_id, batch_str(b, p->topic), p->partition,
			       p->segs[pos[i].seg].first, p->segs[pos[i].seg].last);
	}
	if (!range_args_close(&a)) {
		rc = -ENOMEM;
		goto out;
	}
	params[0] = a.run.s;
	params[1] = a.topic.s;
	params[2] = a.part.s;
	params[3] = a.first.s;
	params[4] = a.last.s;
	res = store_query(st,
			  "SELECT armorsmith_record_ranges($1::int[], $2::text[], $3::int[],"
			  " $4::bigint[], $5::bigint[])",
			  5, params);
	if (!res)
		rc = -EIO;
	PQclear(res);
out:
	range_args_free(&a);
	return rc;
}

/* --- history rows --------------------------------------------------------- */

/* A JSON string of s, escaped as jansson escapes it. */
static void json_put_str(struct copybuf *c, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	copy_put(c, "\"", 1);
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		char esc[6];
		size_t n = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		copy_put(c, run, (size_t)(p - run));
		run = p + 1;
		esc[0] = '\\';
		switch (ch) {
		case '"':
		case '\\':
			esc[1] = (char)ch;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			n = 6;
		}
		copy_put(c, esc, n);
	}
	copy_put(c, run, strlen(run));
	copy_put(c, "\"", 1);
}

static void json_put_key(struct copybuf *c, const char *key, bool first)
{
	if (!first)
		copy_put(c, ",", 1);
	copy_put(c, "\"", 1);
	copy_put(c, key, strlen(key));
	copy_put(c, "\":", 2);
}

static void json_put_num(struct copybuf *c, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	copy_put(c, num, (size_t)n);
}

/* The behavior as the JSON object history has always held: keys sorted. */
static void history_behavior(struct copybuf *c, const struct store_batch *b,
			     const struct batch_event *e)
{
	static const char *const keys[STORE_K_COUNT][6] = {
	    [STORE_K_SYSCALL] = {"arch", "name", "number"},
	    [STORE_K_EXEC] = {"path"},
	    [STORE_K_FILE] = {"old_path", "owner", "path", "permissions"},
	    [STORE_K_CAPABILITY] = {"name"},
	    [STORE_K_NETWORK] = {"address", "family", "operation", "port", "protocol", "sock_type"},
	    [STORE_K_PTRACE] = {"peer", "permissions"},
	    [STORE_K_SIGNAL] = {"peer", "permissions", "signal"},
	    [STORE_K_MOUNT] = {"flags", "fstype", "operation", "path", "source"},
	};
	/* For each key above: the field it shows (0..4), or a number. */
	enum { NUM = 10, OWNER = 11, PORT = 12 };
	static const int8_t from[STORE_K_COUNT][6] = {
	    [STORE_K_SYSCALL] = {1, 0, NUM},
	    [STORE_K_EXEC] = {0},
	    [STORE_K_FILE] = {1, OWNER, 0, 2},
	    [STORE_K_CAPABILITY] = {0},
	    [STORE_K_NETWORK] = {3, 0, 4, PORT, 2, 1},
	    [STORE_K_PTRACE] = {0, 1},
	    [STORE_K_SIGNAL] = {0, 2, 1},
	    [STORE_K_MOUNT] = {4, 3, 0, 1, 2},
	};
	size_t at = copy_field_open(c);

	copy_put(c, "{", 1);
	for (int k = 0; k < 6 && keys[e->kind][k]; k++) {
		json_put_key(c, keys[e->kind][k], k == 0);
		switch (from[e->kind][k]) {
		case NUM:
			json_put_num(c, e->num);
			break;
		case PORT:
			json_put_num(c, (uint32_t)e->num);
			break;
		case OWNER:
			copy_put(c, e->owner ? "true" : "false", e->owner ? 4 : 5);
			break;
		default:
			json_put_str(c, batch_str(b, e->f[from[e->kind][k]]));
		}
	}
	copy_put(c, "}", 1);
	copy_field_close(c, at);
}

static const char *source_name(uint8_t s)
{
	return store_source_name((Armorsmith__V1__Source)s);
}

#define HISTORY_COLUMNS                                                                            \
	" (observed_at, run_id, node, kind, source, pid, comm, container_id, cgroup_id,"           \
	" kafka_partition, kafka_offset, event_id, behavior) FROM STDIN (FORMAT binary)"

/* Rows of one day go straight into that day's partition: the parent's
 * tuple routing was a measurable part of the COPY. A batch spanning days
 * (midnight, a replay) goes through the parent. */
static void history_copy_sql(const struct store_batch *b, const bool *skip, char *sql, size_t len)
{
	int32_t day = INT32_MIN;
	bool one_day = true;

	for (size_t i = 0; i < b->n_events && one_day; i++) {
		int32_t d;

		if (skip[i])
			continue;
		d = utc_day(b->events[i].time_ns);
		if (day != INT32_MIN && d != day)
			one_day = false;
		day = d;
	}
	if (one_day && day != INT32_MIN) {
		time_t tt = (time_t)day * 86400;
		struct tm tm;
		char date[16];

		if (gmtime_r(&tt, &tm) && strftime(date, sizeof(date), "%Y%m%d", &tm)) {
			snprintf(sql, len, "COPY event_history_%s" HISTORY_COLUMNS, date);
			return;
		}
	}
	snprintf(sql, len, "COPY event_history" HISTORY_COLUMNS);
}

/* The batch's unskipped events, grouped by run (in arrival order within a
 * run): a run's rows then fill pages of their own, which is what lets the
 * BRIN index on run_id (migration 006) find one policy's history. */
static uint32_t *history_order(const struct store_batch *b, const bool *skip, size_t *n)
{
	size_t *start = calloc(b->n_runs + 1, sizeof(*start));
	uint32_t *order = malloc((b->n_events ? b->n_events : 1) * sizeof(*order));

	*n = 0;
	if (!start || !order) {
		free(start);
		free(order);
		return NULL;
	}
	for (size_t i = 0; i < b->n_events; i++)
		if (!skip[i])
			start[b->events[i].run + 1]++;
	for (size_t r = 0; r < b->n_runs; r++)
		start[r + 1] += start[r];
	for (size_t i = 0; i < b->n_events; i++)
		if (!skip[i])
			order[start[b->events[i].run]++] = (uint32_t)i;
	*n = start[b->n_runs];
	free(start);
	return order;
}

static int copy_history(struct store *st, struct store_batch *b, const bool *skip, size_t *merged)
{
	struct copybuf *c = &st->copy;
	char sql[320];
	uint32_t *order;
	size_t n;
	int rc;

	*merged = 0;
	order = history_order(b, skip, &n);
	if (!order)
		return -ENOMEM;
	if (n == 0) {
		free(order);
		return 0;
	}
	history_copy_sql(b, skip, sql, sizeof(sql));
	rc = copy_stream_begin(st, sql, c);
	if (rc < 0) {
		free(order);
		return rc;
	}
	for (size_t k = 0; k < n && rc == 0; k++) {
		const struct batch_event *e = &b->events[order[k]];
		const struct batch_part *p = &b->parts[e->part];

		copy_row(c, 13);
		copy_time_field(c, e->time_ns);
		copy_i32_field(c, b->runs[e->run].run_id);
		copy_text_field(c, batch_str(b, e->node));
		copy_text_field(c, store_kind_name(e->kind));
		copy_text_field(c, source_name(e->source));
		copy_i64_field(c, e->pid);
		copy_text_field(c, batch_str(b, e->comm));
		copy_text_field(c, batch_str(b, e->container_id));
		copy_i64_field(c, (int64_t)e->cgroup_id);
		copy_i32_field(c, p->partition);
		copy_i64_field(c, e->offset);
		copy_text_field(c, batch_str(b, e->event_id));
		history_behavior(c, b, e);
		b->runs[e->run].merged++;
		(*merged)++;
		rc = copy_stream_flush(st, sql, c);
	}
	free(order);
	return copy_stream_end(st, sql, c, rc < 0);
}

/* --- set unions ----------------------------------------------------------- */

/* Which of an event's fields (bits 0..4), and whether owner and the number,
 * make the key of its kind's merged set (the table's primary key). */
#define KEY_OWNER 0x20
#define KEY_NUM 0x40
static const uint8_t kind_key[STORE_K_COUNT] = {
    [STORE_K_SYSCALL] = 0x01,
    [STORE_K_EXEC] = 0x01,
    [STORE_K_FILE] = 0x03 | KEY_OWNER,
    [STORE_K_CAPABILITY] = 0x01,
    [STORE_K_NETWORK] = 0x0f | KEY_NUM,
    [STORE_K_PTRACE] = 0x03,
    [STORE_K_SIGNAL] = 0x07,
    [STORE_K_MOUNT] = 0x1f,
};

#define GROUP_INLINE_NODES 2

struct group {
	uint64_t hash;
	uint32_t event; /* the first event of the group: its strings are the key */
	uint8_t perms;
	int64_t first, last;
	uint64_t hits;
	uint32_t n_nodes, cap_nodes;
	store_str inline_nodes[GROUP_INLINE_NODES];
	store_str *nodes;
};

struct groups {
	struct group *g;
	size_t n;
	uint32_t *slots; /* group index + 1 */
	size_t cap;
};

static uint64_t event_key_hash(const struct store_batch *b, const struct batch_event *e)
{
	uint8_t k = kind_key[e->kind];
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)b->runs[e->run].run_id << 8 | e->kind);

	h *= 0x100000001b3ULL;
	for (int i = 0; i < 5; i++) {
		if (k & (1 << i)) {
			const char *s = batch_str(b, e->f[i]);
			h = store_hash_bytes(h, s, strlen(s) + 1);
		}
	}
	if (k & KEY_OWNER)
		h = (h ^ e->owner) * 0x100000001b3ULL;
	if (k & KEY_NUM)
		h = (h ^ (uint32_t)e->num) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static bool event_key_eq(const struct store_batch *b, const struct batch_event *x,
			 const struct batch_event *y)
{
	uint8_t k = kind_key[x->kind];

	if (x->kind != y->kind || b->runs[x->run].run_id != b->runs[y->run].run_id)
		return false;
	for (int i = 0; i < 5; i++)
		if ((k & (1 << i)) && strcmp(batch_str(b, x->f[i]), batch_str(b, y->f[i])) != 0)
			return false;
	if ((k & KEY_OWNER) && x->owner != y->owner)
		return false;
	if ((k & KEY_NUM) && x->num != y->num)
		return false;
	return true;
}

static store_str *group_nodes(struct group *g)
{
	return g->nodes ? g->nodes : g->inline_nodes;
}

/* Keeps the group's nodes sorted and distinct, as the merged sets hold them. */
static int group_add_node(const struct store_batch *b, struct group *g, store_str node)
{
	store_str *nodes = group_nodes(g);
	const char *name = batch_str(b, node);
	uint32_t i;

	for (i = 0; i < g->n_nodes; i++) {
		int cmp = strcmp(batch_str(b, nodes[i]), name);
		if (cmp == 0)
			return 0;
		if (cmp > 0)
			break;
	}
	if (g->n_nodes == (g->nodes ? g->cap_nodes : GROUP_INLINE_NODES)) {
		uint32_t ncap = g->n_nodes * 2;
		store_str *n = malloc(ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memcpy(n, nodes, g->n_nodes * sizeof(*n));
		free(g->nodes);
		g->nodes = n;
		g->cap_nodes = ncap;
		nodes = n;
	}
	memmove(&nodes[i + 1], &nodes[i], (g->n_nodes - i) * sizeof(*nodes));
	nodes[i] = node;
	g->n_nodes++;
	return 0;
}

static void groups_free(struct groups *gs)
{
	for (size_t i = 0; i < gs->n; i++)
		free(gs->g[i].nodes);
	free(gs->g);
	free(gs->slots);
}

static int groups_build(const struct store_batch *b, const bool *skip, struct groups *gs)
{
	size_t cap = 16;

	memset(gs, 0, sizeof(*gs));
	while (cap < b->n_events * 2)
		cap *= 2;
	gs->slots = calloc(cap, sizeof(*gs->slots));
	gs->g = calloc(b->n_events ? b->n_events : 1, sizeof(*gs->g));
	if (!gs->slots || !gs->g)
		return -ENOMEM;
	gs->cap = cap;
	for (size_t i = 0; i < b->n_events; i++) {
		const struct batch_event *e = &b->events[i];
		uint64_t h;
		struct group *g = NULL;
		size_t s;

		if (skip[i])
			continue;
		h = event_key_hash(b, e);
		for (s = h & (cap - 1); gs->slots[s]; s = (s + 1) & (cap - 1)) {
			struct group *c = &gs->g[gs->slots[s] - 1];
			if (c->hash == h && event_key_eq(b, &b->events[c->event], e)) {
				g = c;
				break;
			}
		}
		if (!g) {
			g = &gs->g[gs->n];
			g->hash = h;
			g->event = (uint32_t)i;
			g->first = g->last = e->time_ns;
			gs->slots[s] = (uint32_t)++gs->n;
		}
		g->perms |= e->perms;
		g->hits++;
		if (e->time_ns < g->first)
			g->first = e->time_ns;
		if (e->time_ns > g->last)
			g->last = e->time_ns;
		if (group_add_node(b, g, e->node) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int copy_groups(struct store *st, const struct store_batch *b, const struct groups *gs)
{
	struct copybuf *c = &st->copy;
	const char *nodes[64], **names = nodes;
	int rc;

	copy_begin(c);
	for (size_t i = 0; i < gs->n; i++) {
		const struct group *g = &gs->g[i];
		const struct batch_event *e = &b->events[g->event];
		const struct batch_run *r = &b->runs[e->run];
		uint8_t k = kind_key[e->kind];
		store_str *gn = group_nodes((struct group *)g);
		char perms[sizeof(STORE_PERM_LETTERS)];
		size_t np = 0;

		for (int l = 0; STORE_PERM_LETTERS[l]; l++)
			if (g->perms & (1u << l))
				perms[np++] = STORE_PERM_LETTERS[l];
		perms[np] = '\0';
		if (g->n_nodes > sizeof(nodes) / sizeof(nodes[0])) {
			names = malloc(g->n_nodes * sizeof(*names));
			if (!names) {
				c->failed = true;
				break;
			}
		}
		for (uint32_t n = 0; n < g->n_nodes; n++)
			names[n] = batch_str(b, gn[n]);
		copy_row(c, 15);
		copy_text_field(c, batch_str(b, r->policy_key));
		copy_i64_field(c, (int64_t)r->generation);
		copy_text_field(c, store_kind_name(e->kind));
		for (int f = 0; f < 5; f++)
			copy_text_field(c, (k & (1 << f)) ? batch_str(b, e->f[f]) : "");
		copy_i32_field(c, (k & KEY_NUM) ? e->num : 0);
		copy_bool_field(c, (k & KEY_OWNER) && e->owner);
		copy_text_field(c, perms);
		copy_time_field(c, g->first);
		copy_time_field(c, g->last);
		copy_i64_field(c, (int64_t)g->hits);
		copy_text_array_field(c, names, g->n_nodes);
		if (names != nodes) {
			free(names);
			names = nodes;
		}
	}
	copy_end(c);
	rc = copy_send(st, "COPY merge_groups FROM STDIN (FORMAT binary)", c);
	if (rc == 0) {
		PGresult *res = store_query(st, "SELECT armorsmith_merge_groups()", 0, NULL);
		rc = res ? 0 : -EIO;
		PQclear(res);
	}
	return rc;
}

static int merge_sets(struct store *st, const struct store_batch *b, const bool *skip)
{
	struct groups gs;
	int rc = groups_build(b, skip, &gs);

	if (rc == 0 && gs.n)
		rc = copy_groups(st, b, &gs);
	groups_free(&gs);
	return rc;
}

static int count_run_events(struct store *st, const struct store_batch *b)
{
	struct sbuf ids = {0}, counts = {0};
	const char *params[2];
	PGresult *res;
	int rc = 0;

	sb_str(&ids, "{");
	sb_str(&counts, "{");
	for (size_t i = 0; i < b->n_runs; i++) {
		if (!b->runs[i].merged)
			continue;
		sb_elem_i64(&ids, b->runs[i].run_id);
		sb_elem_i64(&counts, (int64_t)b->runs[i].merged);
	}
	sb_str(&ids, "}");
	sb_str(&counts, "}");
	if (ids.failed || counts.failed) {
		rc = -ENOMEM;
		goto out;
	}
	if (ids.len <= 2)
		goto out;
	params[0] = ids.s;
	params[1] = counts.s;
	res = store_query(st,
			  "UPDATE run_keys k SET events_merged = k.events_merged + u.n"
			  " FROM unnest($1::int[], $2::bigint[]) AS u(id, n) WHERE k.run_id = u.id",
			  2, params);
	rc = res ? 0 : -EIO;
	PQclear(res);
out:
	free(ids.s);
	free(counts.s);
	return rc;
}

/* --- controls, reports, offsets ------------------------------------------- */

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
	store_format_time(r->time_unix_nano, at, sizeof(at));
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
	store_format_time(c->start_unix_nano, start, sizeof(start));
	store_format_time(c->deadline_unix_nano, deadline, sizeof(deadline));
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

static int merge_blobs(struct store *st, const struct store_batch *b, bool reports)
{
	const struct batch_blob *blobs = reports ? b->reports : b->controls;
	size_t n = reports ? b->n_reports : b->n_controls;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)b->arena + blobs[i].off;
		int rc;

		if (reports) {
			Armorsmith__V1__NodeReport *r =
			    armorsmith__v1__node_report__unpack(NULL, blobs[i].len, p);
			if (!r)
				return -EINVAL;
			rc = merge_report(st, r);
			armorsmith__v1__node_report__free_unpacked(r, NULL);
		} else {
			Armorsmith__V1__ModelingControl *c =
			    armorsmith__v1__modeling_control__unpack(NULL, blobs[i].len, p);
			if (!c)
				return -EINVAL;
			rc = merge_control(st, c);
			armorsmith__v1__modeling_control__free_unpacked(c, NULL);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int merge_offsets(struct store *st, const char *group, const struct store_batch *b)
{
	for (size_t i = 0; i < b->n_parts; i++) {
		const struct batch_part *p = &b->parts[i];
		char part[16], off[24];
		const char *params[4] = {group, batch_str(b, p->topic), part, off};
		PGresult *res;

		if (p->next_offset < 0 || !group)
			continue;
		snprintf(part, sizeof(part), "%d", p->partition);
		snprintf(off, sizeof(off), "%" PRId64, p->next_offset);
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

/* --- the transaction ------------------------------------------------------ */

static int merge_in_transaction(struct store *st, const char *group, struct store_batch *b,
				size_t *merged)
{
	struct event_pos *pos = NULL;
	struct claims claims = {0};
	bool *skip = NULL;
	int64_t t[5] = {time_now_ns()};
	int rc;

	for (size_t i = 0; i < b->n_runs; i++)
		b->runs[i].merged = 0;
	rc = index_events(b, &pos);
	if (rc < 0)
		goto out;
	rc = load_claims(st, b, pos, &claims);
	if (rc < 0)
		goto out;
	skip = calloc(b->n_events ? b->n_events : 1, sizeof(*skip));
	if (!skip) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->n_events && claims.n; i++)
		skip[i] = event_claimed(b, &claims, &b->events[i]);
	t[1] = time_now_ns();
	/* Controls first, reports last: a Completed report never lands
	 * before the events it covers. */
	if ((rc = merge_blobs(st, b, false)) < 0 || (rc = copy_history(st, b, skip, merged)) < 0)
		goto out;
	t[2] = time_now_ns();
	if ((rc = merge_sets(st, b, skip)) < 0)
		goto out;
	t[3] = time_now_ns();
	if ((rc = record_ranges(st, b, pos)) < 0 || (rc = count_run_events(st, b)) < 0 ||
	    (rc = merge_blobs(st, b, true)) < 0 || (rc = merge_offsets(st, group, b)) < 0)
		goto out;
	t[4] = time_now_ns();
	log_debug("store: batch of %zu events: ranges %.1f ms, history %.1f ms, sets %.1f ms,"
		  " rest %.1f ms",
		  b->n_events, (t[1] - t[0]) / 1e6, (t[2] - t[1]) / 1e6, (t[3] - t[2]) / 1e6,
		  (t[4] - t[3]) / 1e6);
out:
	free(pos);
	free(claims.c);
	free(skip);
	return rc;
}

int store_merge_batch(struct store *st, const char *group, struct store_batch *b, size_t *merged)
{
	size_t n_new = 0;
	int rc;

	if (b->failed)
		return -ENOMEM;
	/* Run ids and day partitions outlive a failed batch: both are
	 * harmless without rows, and they keep the merge transaction free of
	 * catalog locks. */
	if ((rc = resolve_runs(st, b)) < 0 || (rc = ensure_partitions(st, b)) < 0)
		return rc;
	if (store_exec(st, "BEGIN"))
		return -EIO;
	rc = merge_in_transaction(st, group, b, &n_new);
	if (rc < 0) {
		store_exec(st, "ROLLBACK");
		/* A partition this process made may have been dropped since by
		 * retention (ours or another worker's): make them again on the
		 * retry rather than fail it forever. */
		st->n_days = 0;
		return rc;
	}
	if (store_exec(st, "COMMIT"))
		return -EIO;
	if (merged)
		*merged = n_new;
	return 0;
}
