/* `armorsmith replay`: rebuilds the behavior store's projection of a policy
 * (or of everything) from armorsmith.behavior.v1 and armorsmith.control.v1,
 * regenerates the profiles of its completed runs with the builder's code,
 * and checks they are byte-identical to the ones built live. */
#include "cli.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "merger.h"
#include "profile_build.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_BATCH 50000

struct replay_part {
	char topic[64];
	int32_t partition;
	int64_t end; /* high watermark when the replay started */
	bool done;
};

struct replay {
	struct armorsmith_config cfg;
	const char *policy_key; /* NULL: everything */
	struct store *store;
	rd_kafka_t *consumer;
	struct replay_part *parts;
	size_t n_parts;
	uint64_t merged, skipped, invalid;
};

void cli_replay_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith replay (--name NAME [--namespace NS] | --all) [OPTIONS]\n"
	    "\n"
	    "Rebuilds the PostgreSQL behavior store from the Kafka topics, which hold the source\n"
	    "of truth: deletes the policy's history, merged sets and node reports, reads\n"
	    "armorsmith.control.v1 and armorsmith.behavior.v1 from the beginning up to their\n"
	    "current end, merges what belongs to the policy, then regenerates the profiles of\n"
	    "every completed run and compares them with those built live. Exits 0 when every\n"
	    "profile is byte-identical, 1 when one differs, 2 on errors.\n"
	    "\n"
	    "  --name NAME        profile name (the policy key is NAMESPACE/NAME)\n"
	    "  --namespace NS     namespace (default: default)\n"
	    "  --all              every policy\n"
	    "  --kafka BROKERS    Kafka bootstrap servers (env ARMORSMITH_KAFKA_BROKERS)\n"
	    "  --pg CONNINFO      PostgreSQL conninfo (env ARMORSMITH_PG_DSN)\n"
	    "  --config FILE      YAML configuration\n"
	    "  -h, --help         this text\n");
}

static int replay_assign(struct replay *r, char *err, size_t errlen)
{
	static const char *const topics[] = {TOPIC_CONTROL, TOPIC_BEHAVIOR};
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);

	for (size_t t = 0; t < 2; t++) {
		int n = kafka_partition_count(r->consumer, topics[t], 10000);
		if (n <= 0) {
			snprintf(err, errlen, "cannot read partitions of %s at %s", topics[t],
				 r->cfg.kafka_brokers);
			rd_kafka_topic_partition_list_destroy(list);
			return -EHOSTUNREACH;
		}
		for (int p = 0; p < n; p++) {
			int64_t lo, hi;
			struct replay_part *rp;

			if (rd_kafka_query_watermark_offsets(r->consumer, topics[t], p, &lo, &hi,
							     10000)) {
				snprintf(err, errlen, "cannot read offsets of %s[%d]", topics[t],
					 p);
				rd_kafka_topic_partition_list_destroy(list);
				return -EIO;
			}
			rp = realloc(r->parts, (r->n_parts + 1) * sizeof(*rp));
			if (!rp) {
				rd_kafka_topic_partition_list_destroy(list);
				return -ENOMEM;
			}
			r->parts = rp;
			rp = &r->parts[r->n_parts++];
			snprintf(rp->topic, sizeof(rp->topic), "%s", topics[t]);
			rp->partition = p;
			rp->end = hi;
			rp->done = hi <= lo;
			rd_kafka_topic_partition_list_add(list, topics[t], p)->offset =
			    RD_KAFKA_OFFSET_BEGINNING;
		}
	}
	rd_kafka_assign(r->consumer, list);
	rd_kafka_topic_partition_list_destroy(list);
	return 0;
}

static bool replay_done(struct replay *r)
{
	for (size_t i = 0; i < r->n_parts; i++)
		if (!r->parts[i].done)
			return false;
	return true;
}

static void replay_advance(struct replay *r, const char *topic, int32_t partition, int64_t offset)
{
	for (size_t i = 0; i < r->n_parts; i++)
		if (r->parts[i].partition == partition && strcmp(r->parts[i].topic, topic) == 0 &&
		    offset + 1 >= r->parts[i].end)
			r->parts[i].done = true;
}

/* Adds one message to the batch: an event, report or control of the policy,
 * or a note that the offset was read (so merged ranges stay whole). */
static int replay_take(struct replay *r, struct store_batch *b, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	size_t keylen = r->policy_key ? strlen(r->policy_key) : 0;
	struct merger_decoded dec;
	char reason[256];
	int rc = 0;

	if (r->policy_key && (m->key_len != keylen || memcmp(m->key, r->policy_key, keylen) != 0)) {
		r->skipped++;
		return store_batch_note_message(b, topic, m->partition, m->offset);
	}
	if (merger_decode(topic, m->key, m->key_len, m->payload, m->len, &dec, reason,
			  sizeof(reason)) < 0) {
		r->invalid++; /* the live merger dead-lettered it too */
		return store_batch_note_message(b, topic, m->partition, m->offset);
	}
	if (dec.kind == MERGER_EVENT)
		rc = store_batch_add_event(b, dec.record->event, topic, m->partition, m->offset);
	else if (dec.kind == MERGER_REPORT)
		rc = store_batch_add_report(b, dec.record->report);
	else if (dec.kind == MERGER_CONTROL)
		rc = store_batch_add_control(b, dec.control);
	if (rc == 0 && dec.kind != MERGER_EVENT)
		rc = store_batch_note_message(b, topic, m->partition, m->offset);
	merger_decoded_free(&dec);
	return rc;
}

/* Reads up to the watermarks, merging in batches like the merger does. */
static int replay_consume(struct replay *r)
{
	int rc = 0;

	while (!replay_done(r) && rc == 0) {
		struct store_batch *b = store_batch_new();
		int n = 0;

		if (!b)
			return -ENOMEM;
		while (n < REPLAY_BATCH && !replay_done(r) && rc == 0) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer, 1000);

			if (!m)
				continue;
			if (m->err) {
				if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
					log_warn("replay: %s", rd_kafka_message_errstr(m));
				else
					replay_advance(r, rd_kafka_topic_name(m->rkt), m->partition,
						       m->offset - 1);
				rd_kafka_message_destroy(m);
				continue;
			}
			replay_advance(r, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
			rc = replay_take(r, b, m);
			rd_kafka_message_destroy(m);
			n++;
		}
		if (n > 0 && rc == 0) {
			size_t merged = 0;
			/* No group: a replay stores no consumer offsets. */
			rc = store_merge_batch(r->store, NULL, b, &merged);
			r->merged += merged;
		}
		store_batch_free(b);
	}
	return rc;
}

/* Regenerates each completed run and compares with the live profiles. */
static int replay_compare(struct replay *r, size_t *differing)
{
	struct store_run *runs = NULL;
	size_t n = 0;
	int rc = store_list_completed_runs(r->store, r->policy_key, &runs, &n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct behavior_model m;
		struct profile_build pb;
		char *aa = NULL, *sc = NULL;
		bool same;

		rc = store_load_model(r->store, runs[i].policy_key, runs[i].generation, &m);
		if (rc < 0)
			break;
		rc = profile_build_run(&m, &pb);
		behavior_model_free(&m);
		if (rc < 0)
			break;
		rc = store_run_profiles(r->store, runs[i].policy_key, runs[i].generation, &aa, &sc);
		same = rc == 0 && aa && sc && strcmp(aa, pb.apparmor) == 0 &&
		       strcmp(sc, pb.seccomp ? pb.seccomp : "") == 0;
		printf("%s generation %" PRIu64 ": %s\n", runs[i].policy_key, runs[i].generation,
		       same ? "profiles byte-identical" : "PROFILES DIFFER from the live build");
		*differing += !same;
		free(aa);
		free(sc);
		profile_build_free(&pb);
		if (rc < 0)
			break;
	}
	free(runs);
	return rc;
}

int cli_replay(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'}, {"namespace", required_argument, NULL, 'N'},
	    {"all", no_argument, NULL, 'a'},	    {"kafka", required_argument, NULL, 'k'},
	    {"pg", required_argument, NULL, 'p'},   {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *ns = "default", *kafka = NULL, *pg = NULL, *config = NULL;
	struct replay r = {0};
	bool all = false;
	char key[320], err[512];
	size_t differing = 0;
	int c, rc = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'N':
			ns = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'k':
			kafka = optarg;
			break;
		case 'p':
			pg = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			cli_replay_usage(stdout);
			return 0;
		default:
			cli_replay_usage(stderr);
			return 2;
		}
	}
	if (!!name == all) {
		log_error("give either --name or --all");
		return 2;
	}
	if (config_init_defaults(&r.cfg) < 0)
		return 2;
	if (config_load_sources(&r.cfg, config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if ((kafka && config_set(&r.cfg.kafka_brokers, kafka)) ||
	    (pg && config_set(&r.cfg.pg_dsn, pg)))
		goto out;
	if (name) {
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		r.policy_key = key;
	}
	if (store_open(r.cfg.pg_dsn, &r.store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	r.consumer = kafka_consumer_new(r.cfg.kafka_brokers, NULL, NULL, NULL, err, sizeof(err));
	if (!r.consumer ||
	    kafka_check_topic(r.consumer, r.cfg.kafka_brokers, TOPIC_BEHAVIOR, 10000, err,
			      sizeof(err)) < 0 ||
	    replay_assign(&r, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (store_reset_projection(r.store, r.policy_key) < 0) {
		log_error("cannot reset the store for %s", r.policy_key ? r.policy_key : "all");
		goto out;
	}
	log_info("replaying %s from %s", r.policy_key ? r.policy_key : "every policy",
		 r.cfg.kafka_brokers);
	if (replay_consume(&r) < 0) {
		log_error("replay failed while merging; run it again (merges are idempotent)");
		goto out;
	}
	log_info("merged %" PRIu64 " events (%" PRIu64 " messages of other policies, %" PRIu64
		 " invalid)",
		 r.merged, r.skipped, r.invalid);
	if (replay_compare(&r, &differing) < 0) {
		log_error("cannot regenerate profiles");
		goto out;
	}
	rc = differing ? 1 : 0;
out:
	if (r.consumer) {
		rd_kafka_consumer_close(r.consumer);
		rd_kafka_destroy(r.consumer);
	}
	free(r.parts);
	store_close(r.store);
	config_free(&r.cfg);
	return rc;
}
