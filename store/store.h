/* The libpq layer over the behavior store: migrations, the merge of decoded
 * events (with the Kafka offsets, in one transaction), and what the builder
 * reads. */
#ifndef ARMORSMITH_STORE_H
#define ARMORSMITH_STORE_H

#include "armorsmith/v1/armorsmith.pb-c.h"
#include "behavior.h"

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_batch;

/* Connects and applies pending migrations. err names the server on failure. */
int store_open(const char *dsn, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);
/* Re-establishes a lost connection (PostgreSQL restarted); 0 when healthy. */
int store_reconnect(struct store *st);
int store_schema_version(struct store *st);

/* A batch copies what it needs: messages may be freed once added. */
struct store_batch *store_batch_new(void);
void store_batch_free(struct store_batch *b);
/* An event and the Kafka coordinates it was read from, which identify it:
 * an offset the batch holds already is ignored (a redelivery after a
 * rebalance), one merged by an earlier batch is skipped at merge time. */
int store_batch_add_event(struct store_batch *b, const Armorsmith__V1__BehaviorEvent *ev,
			  const char *topic, int32_t partition, int64_t offset);
int store_batch_add_report(struct store_batch *b, const Armorsmith__V1__NodeReport *rep);
int store_batch_add_control(struct store_batch *b, const Armorsmith__V1__ModelingControl *ctl);
/* A message read but not added as an event (a report, a dead letter, an
 * event of another policy): it lets the batch's merged ranges stay whole. */
int store_batch_note_message(struct store_batch *b, const char *topic, int32_t partition,
			     int64_t offset);
/* Where the consumer group resumes: the highest next_offset per partition. */
int store_batch_add_offset(struct store_batch *b, const char *topic, int32_t partition,
			   int64_t next_offset);
size_t store_batch_len(const struct store_batch *b);
/* One transaction: merged ranges, history, set unions, runs, node reports
 * and the group's offsets (group may be NULL: none stored). *merged counts
 * events that were new (not merged before by any consumer). */
int store_merge_batch(struct store *st, const char *group, struct store_batch *b, size_t *merged);
/* Next offset to consume for (group, topic, partition), or -ENOENT. */
int store_load_offset(struct store *st, const char *group, const char *topic, int32_t partition,
		      int64_t *next_offset);

struct store_run {
	char policy_key[512];
	uint64_t generation;
	int64_t deadline_ns;
	uint32_t joined;
	uint32_t reported;
};

/* Runs still Modeling whose deadline is at or before now_ns. */
int store_list_due_runs(struct store *st, int64_t now_ns, struct store_run **runs, size_t *n);
int store_load_model(struct store *st, const char *policy_key, uint64_t generation,
		     struct behavior_model *out);
int store_mark_completed(struct store *st, const char *policy_key, uint64_t generation,
			 const char *apparmor, const char *seccomp);
/* Status of a run for progress output: "Modeling", "Completed", or -ENOENT. */
int store_run_status(struct store *st, const char *policy_key, uint64_t generation, char *status,
		     size_t len, uint64_t *events, uint32_t *joined, uint32_t *reported);

/* Generations of a policy's runs, newest first, at most max of them. */
int store_list_generations(struct store *st, const char *policy_key, uint64_t *gens, size_t max,
			   size_t *n);
/* A run's behaviors as "KIND ITEM" lines (the behaviors view), sorted. */
int store_run_items(struct store *st, const char *policy_key, uint64_t generation,
		    struct strlist *out);
/* The profiles a completed run was built with; NULL while not built. */
int store_run_profiles(struct store *st, const char *policy_key, uint64_t generation,
		       char **apparmor, char **seccomp);

/* Completed runs of one policy (or of all, when policy_key is NULL). */
int store_list_completed_runs(struct store *st, const char *policy_key, struct store_run **runs,
			      size_t *n);
/* Deletes what replay rebuilds for one policy (or all): history, merged sets
 * and node reports. Runs and their built profiles stay, for comparison. */
int store_reset_projection(struct store *st, const char *policy_key);

/* History is partitioned by UTC day: makes sure yesterday to the day after
 * tomorrow exist (the merge makes others as events need them). */
int store_history_prepare(struct store *st, int64_t now_ns);
/* Drops the days entirely older than now - retention (0: keep all). */
int store_history_expire(struct store *st, int64_t now_ns, int64_t retention_ns, int *dropped);
/* Gives every day that is over (before now's UTC day) and has no index yet
 * its BRIN index; *sealed says how many. The day being written has none:
 * each index costs every COPYed row (migration 007). */
int store_history_seal(struct store *st, int64_t now_ns, int *sealed);

const char *store_source_name(Armorsmith__V1__Source s);

#endif
