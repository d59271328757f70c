/* What the store's own modules share: the connection, the batch layout and
 * a writer for PostgreSQL's binary COPY format. Not for other programs. */
#ifndef ARMORSMITH_STORE_INTERNAL_H
#define ARMORSMITH_STORE_INTERNAL_H

#include "store.h"

#include <endian.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A growable buffer in PostgreSQL's binary COPY format. */
struct copybuf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

/* (policy key, generation) -> run_keys.run_id, as far as this process knows. */
struct store_runid {
	char *policy_key;
	uint64_t generation;
	int32_t run_id;
};

struct store {
	PGconn *conn;
	char *dsn;
	struct store_runid *runids; /* open addressing, cap a power of two */
	size_t n_runids, cap_runids;
	int32_t *days; /* UTC days (since 1970) whose history partition exists */
	size_t n_days, cap_days;
	/* Kept from batch to batch: a batch's COPY is tens of megabytes,
	 * growing it afresh every time cost page faults and copies. */
	struct copybuf copy;
};

enum store_kind {
	STORE_K_SYSCALL,
	STORE_K_EXEC,
	STORE_K_FILE,
	STORE_K_CAPABILITY,
	STORE_K_NETWORK,
	STORE_K_PTRACE,
	STORE_K_SIGNAL,
	STORE_K_MOUNT,
	STORE_K_COUNT,
};

/* Strings live in the batch's arena and are named by their offset there. */
typedef uint32_t store_str;

struct batch_run {
	store_str policy_key;
	uint64_t generation;
	uint64_t hash;
	int32_t run_id; /* resolved by store_merge_batch() */
	uint64_t merged;
};

struct batch_segment {
	int64_t first, last; /* consecutive offsets all consumed by this batch */
};

struct batch_part {
	store_str topic;
	int32_t partition;
	int64_t next_offset; /* for consumer_offsets; -1: not a group offset */
	struct batch_segment *segs;
	size_t n_segs, cap_segs;
};

/* One event, copied out of its protobuf message. The fields a..e hold the
 * behavior's strings in the order of its kind (see store_batch.c). */
struct batch_event {
	uint32_t run;
	uint32_t part;
	uint32_t seg;
	uint8_t kind;
	uint8_t source;
	uint8_t perms; /* files: permission letters as STORE_PERM_* bits */
	bool owner;
	int64_t offset;
	int64_t time_ns;
	uint64_t cgroup_id;
	uint32_t pid;
	int32_t num; /* syscall number or network port */
	store_str node, comm, container_id, event_id;
	store_str f[5];
};

struct batch_blob {
	size_t off, len; /* packed protobuf in the arena */
};

struct store_batch {
	char *arena;
	size_t arena_len, arena_cap;
	bool failed; /* out of memory while copying: the merge refuses the batch */
	struct batch_run *runs;
	size_t n_runs, cap_runs;
	uint32_t *run_slots; /* run index + 1, open addressing */
	size_t cap_run_slots;
	struct batch_part *parts;
	size_t n_parts, cap_parts;
	struct batch_event *events;
	size_t n_events, cap_events;
	struct batch_blob *reports, *controls;
	size_t n_reports, cap_reports, n_controls, cap_controls;
};

static inline const char *batch_str(const struct store_batch *b, store_str s)
{
	return b->arena + s;
}

/* Permission letters in the order AppArmor rules and the store write them. */
#define STORE_PERM_LETTERS "mrwaklx"

const char *store_kind_name(enum store_kind k);
uint64_t store_hash_bytes(uint64_t h, const void *p, size_t n);

/* Creates the history partition of a UTC day (days since 1970) unless this
 * process knows it exists. Runs in its own transaction. */
int store_history_partition(struct store *st, int32_t day);

/* Seconds.microseconds, as to_timestamp() takes them. */
static inline void store_format_time(int64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRId64 ".%06" PRId64, ns / 1000000000, (ns % 1000000000) / 1000);
}

/* Statements without results, and queries; both log what failed. */
int store_exec(struct store *st, const char *sql);
PGresult *store_query(struct store *st, const char *sql, int n, const char *const *params);

/* Grows the buffer for n more bytes; false (and failed set) on ENOMEM. */
bool copy_grow(struct copybuf *c, size_t n);

/* Inline: a history row is a dozen of these, a batch 100,000 rows. */
static inline void copy_put(struct copybuf *c, const void *p, size_t n)
{
	if (c->len + n > c->cap && !copy_grow(c, n))
		return;
	memcpy(c->data + c->len, p, n);
	c->len += n;
}

static inline void copy_u16(struct copybuf *c, uint16_t v)
{
	uint16_t be = htobe16(v);
	copy_put(c, &be, 2);
}

static inline void copy_u32(struct copybuf *c, uint32_t v)
{
	uint32_t be = htobe32(v);
	copy_put(c, &be, 4);
}

static inline void copy_u64(struct copybuf *c, uint64_t v)
{
	uint64_t be = htobe64(v);
	copy_put(c, &be, 8);
}

static inline void copy_row(struct copybuf *c, int16_t fields)
{
	copy_u16(c, (uint16_t)fields);
}

static inline void copy_i32_field(struct copybuf *c, int32_t v)
{
	copy_u32(c, 4);
	copy_u32(c, (uint32_t)v);
}

static inline void copy_i64_field(struct copybuf *c, int64_t v)
{
	copy_u32(c, 8);
	copy_u64(c, (uint64_t)v);
}

static inline void copy_bool_field(struct copybuf *c, bool v)
{
	uint8_t b = v;

	copy_u32(c, 1);
	copy_put(c, &b, 1);
}

static inline void copy_text_n_field(struct copybuf *c, const char *s, size_t n)
{
	copy_u32(c, (uint32_t)n);
	copy_put(c, s, n);
}

static inline void copy_text_field(struct copybuf *c, const char *s)
{
	copy_text_n_field(c, s, strlen(s));
}

/* A timestamptz from Unix nanoseconds: microseconds since 2000-01-01,
 * PostgreSQL's epoch, rounded towards minus infinity as to_timestamp()
 * rounds. */
static inline void copy_time_field(struct copybuf *c, int64_t unix_ns)
{
	int64_t us = unix_ns / 1000 - (unix_ns % 1000 < 0);

	copy_i64_field(c, us - 946684800LL * 1000000);
}

void copy_begin(struct copybuf *c);
void copy_end(struct copybuf *c);
/* A field whose length is known only once written: open, write, close. */
size_t copy_field_open(struct copybuf *c);
void copy_field_close(struct copybuf *c, size_t at);
/* A one-dimensional text[] of n strings. */
void copy_text_array_field(struct copybuf *c, const char *const *items, size_t n);
/* Sends the buffer as COPY sql FROM STDIN (FORMAT binary). */
int copy_send(struct store *st, const char *sql, struct copybuf *c);
/* A COPY whose rows are sent as they are written into c: begin, then
 * copy_stream_flush() after each row, then end (abort: roll the COPY back). */
int copy_stream_begin(struct store *st, const char *sql, struct copybuf *c);
int copy_stream_flush(struct store *st, const char *sql, struct copybuf *c);
int copy_stream_end(struct store *st, const char *sql, struct copybuf *c, bool abort);

#endif
