/* armorsmith-merger: a consumer-group worker that merges behavior events,
 * node reports and modeling controls into the PostgreSQL behavior store, one
 * transaction per batch together with the consumed offsets. */
#include "config.h"
#include "httpd.h"
#include "kafka.h"
#include "log.h"
#include "merger.h"
#include "metrics.h"
#include "store.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MERGER_MAX_BATCH 5000

static volatile sig_atomic_t merger_stop;

struct merger {
	struct armorsmith_config cfg;
	struct store *store;
	rd_kafka_t *consumer;
	rd_kafka_t *deadletter;
	int batch_size;
	int batch_ms;
	int64_t idle_exit_ns; /* 0: run until signalled */
	uint64_t merged_total, deadletter_total;
	int64_t first_msg_ns, last_commit_ns; /* for throughput figures */
	int assigned;			      /* partitions currently assigned */
	int64_t assigned_at_ns;		      /* last (re)assignment, for --exit-when-idle */
	struct metric *m_messages, *m_batches, *m_merged, *m_deadletters, *m_merge_failures,
	    *m_assigned;
};

static void on_signal(int sig)
{
	(void)sig;
	merger_stop = 1;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith-merger [OPTIONS]\n"
	    "\n"
	    "Consumes armorsmith.behavior.v1 and armorsmith.control.v1 in a consumer group and\n"
	    "merges them into the PostgreSQL behavior store. Offsets are stored in PostgreSQL in\n"
	    "the same transaction as the data, so a killed worker resumes without loss or\n"
	    "duplicates. Undecodable or invalid messages go to armorsmith.deadletter.v1.\n"
	    "\n"
	    "  --config FILE      YAML configuration (kafka.brokers, postgres.dsn, merger.group)\n"
	    "  --kafka BROKERS    Kafka bootstrap servers (env ARMORSMITH_KAFKA_BROKERS,\n"
	    "                     default %s)\n"
	    "  --pg CONNINFO      PostgreSQL connection string (env ARMORSMITH_PG_DSN)\n"
	    "  --group ID         consumer group id (default armorsmith-merger)\n"
	    "  --batch-size N     messages per transaction (default 1000)\n"
	    "  --batch-ms MS      longest wait to fill a batch (default 200)\n"
	    "  --exit-when-idle D exit after D (e.g. 5s) without messages (for replays)\n"
	    "  --metrics-addr H:P serve /healthz and /metrics over HTTP on HOST:PORT\n"
	    "                     (http.metrics_addr, env ARMORSMITH_METRICS_ADDR; default off)\n"
	    "  -h, --help         this text\n",
	    CONFIG_DEFAULT_BROKERS);
}

/* Partitions assigned to this worker resume from the offsets in PostgreSQL,
 * which are the only committed offsets that count. */
static void merger_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct merger *m = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++) {
			rd_kafka_topic_partition_t *p = &parts->elems[i];
			int64_t off;
			if (store_load_offset(m->store, m->cfg.consumer_group, p->topic,
					      p->partition, &off) == 0)
				p->offset = off;
			else
				p->offset = RD_KAFKA_OFFSET_BEGINNING;
			log_info("assigned %s[%d] from offset %" PRId64, p->topic, p->partition,
				 p->offset);
		}
		rd_kafka_assign(rk, parts);
		m->assigned = parts->cnt;
		metric_set(m->m_assigned, parts->cnt);
		m->assigned_at_ns = time_now_ns();
	} else {
		m->assigned = 0;
		metric_set(m->m_assigned, 0);
		log_info("partitions revoked (%d)", parts->cnt);
		rd_kafka_assign(rk, NULL);
	}
}

static int merger_deadletter(struct merger *m, const rd_kafka_message_t *msg, const char *reason)
{
	char part[16], off[24];
	rd_kafka_resp_err_t e;
	const char *topic = rd_kafka_topic_name(msg->rkt);

	snprintf(part, sizeof(part), "%d", msg->partition);
	snprintf(off, sizeof(off), "%" PRId64, msg->offset);
	log_warn("dead-lettering %s[%d]@%" PRId64 ": %s", topic, msg->partition, msg->offset,
		 reason);
	e = rd_kafka_producev(
	    m->deadletter, RD_KAFKA_V_TOPIC(TOPIC_DEADLETTER),
	    RD_KAFKA_V_KEY(msg->key, msg->key_len), RD_KAFKA_V_VALUE(msg->payload, msg->len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_HEADER("armorsmith-error", reason, -1),
	    RD_KAFKA_V_HEADER("armorsmith-source-topic", topic, -1),
	    RD_KAFKA_V_HEADER("armorsmith-source-partition", part, -1),
	    RD_KAFKA_V_HEADER("armorsmith-source-offset", off, -1), RD_KAFKA_V_END);
	if (e) {
		log_error("cannot produce to %s: %s", TOPIC_DEADLETTER, rd_kafka_err2str(e));
		return -EIO;
	}
	m->deadletter_total++;
	metric_inc(m->m_deadletters);
	return 0;
}

/* Commits one batch; retries (reconnecting) until PostgreSQL takes it or we
 * are told to stop. The merge is idempotent, so a retry after an unknown
 * outcome is safe. */
static int merger_commit(struct merger *m, struct store_batch *b)
{
	int delay_ms = 200;

	/* Dead letters first: once offsets are stored they must already be kept. */
	if (rd_kafka_flush(m->deadletter, 30000)) {
		log_error("dead-letter topic did not accept messages within 30s");
		return -EIO;
	}
	for (;;) {
		size_t merged = 0;
		if (store_merge_batch(m->store, m->cfg.consumer_group, b, &merged) == 0) {
			m->merged_total += merged;
			metric_inc(m->m_batches);
			metric_add(m->m_merged, merged);
			metrics_health_ok();
			log_debug("merged batch of %zu (%zu new)", store_batch_len(b), merged);
			return 0;
		}
		if (merger_stop)
			return -EINTR;
		log_warn("merge failed; retrying in %d ms", delay_ms);
		metric_inc(m->m_merge_failures);
		metrics_health_problem("postgresql: merging a batch failed; retrying");
		usleep((useconds_t)delay_ms * 1000);
		store_reconnect(m->store);
		if (delay_ms < 5000)
			delay_ms *= 2;
	}
}

/* The next offset per partition, as now stored in PostgreSQL. */
static void merger_offset_metrics(rd_kafka_message_t **msgs, int n)
{
	for (int i = 0; i < n; i++) {
		char labels[200], part[16];
		if (i + 1 < n && msgs[i + 1]->rkt == msgs[i]->rkt &&
		    msgs[i + 1]->partition == msgs[i]->partition)
			continue;
		snprintf(part, sizeof(part), "%d", msgs[i]->partition);
		if (metrics_labels(labels, sizeof(labels), "topic",
				   rd_kafka_topic_name(msgs[i]->rkt), "partition", part, NULL) == 0)
			metric_set(metrics_gauge("armorsmith_merger_committed_offset", labels,
						 "Next offset to consume per partition, stored in "
						 "PostgreSQL with the last merged batch."),
				   msgs[i]->offset + 1);
	}
}

static int merger_run(struct merger *m)
{
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
	rd_kafka_message_t **msgs = calloc(MERGER_MAX_BATCH, sizeof(*msgs));
	struct merger_decoded *dec = calloc(MERGER_MAX_BATCH, sizeof(*dec));
	int64_t last_msg = time_now_ns();
	rd_kafka_resp_err_t e;
	int rc = 0;

	if (!topics || !msgs || !dec) {
		rc = -ENOMEM;
		goto out;
	}
	rd_kafka_topic_partition_list_add(topics, TOPIC_CONTROL, RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, TOPIC_BEHAVIOR, RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(m->consumer, topics);
	if (e) {
		log_error("cannot subscribe: %s", rd_kafka_err2str(e));
		rc = -EIO;
		goto out;
	}
	while (!merger_stop) {
		struct store_batch *b = store_batch_new();
		metrics_health_tick();
		int n = 0;
		int64_t until = time_now_ns() + (int64_t)m->batch_ms * NSEC_PER_MSEC;

		if (!b) {
			rc = -ENOMEM;
			break;
		}
		while (n < m->batch_size && !merger_stop) {
			int64_t left = (until - time_now_ns()) / NSEC_PER_MSEC;
			rd_kafka_message_t *msg;
			char reason[256];

			if (left <= 0)
				break;
			msg = rd_kafka_consumer_poll(m->consumer, (int)left);
			if (!msg)
				continue;
			if (msg->err) {
				if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
					log_warn("consumer: %s", rd_kafka_message_errstr(msg));
				rd_kafka_message_destroy(msg);
				continue;
			}
			msgs[n] = msg;
			if (merger_decode(rd_kafka_topic_name(msg->rkt), msg->key, msg->key_len,
					  msg->payload, msg->len, &dec[n], reason,
					  sizeof(reason)) < 0) {
				if (merger_deadletter(m, msg, reason) < 0) {
					rc = -EIO;
					merger_stop = 1;
				}
			} else if (dec[n].kind == MERGER_EVENT) {
				store_batch_add_event(b, dec[n].record->event);
			} else if (dec[n].kind == MERGER_REPORT) {
				store_batch_add_report(b, dec[n].record->report);
			} else if (dec[n].kind == MERGER_CONTROL) {
				store_batch_add_control(b, dec[n].control);
			}
			store_batch_add_offset(b, rd_kafka_topic_name(msg->rkt), msg->partition,
					       msg->offset + 1);
			n++;
		}
		if (n > 0 && rc == 0) {
			last_msg = time_now_ns();
			if (!m->first_msg_ns)
				m->first_msg_ns = last_msg;
			if (merger_commit(m, b) == 0) {
				/* Kafka's copy of the offsets is for lag monitoring only. */
				rd_kafka_commit_message(m->consumer, msgs[n - 1], 1);
				m->last_commit_ns = time_now_ns();
				metric_add(m->m_messages, (uint64_t)n);
				merger_offset_metrics(msgs, n);
			} else {
				rc = merger_stop ? 0 : -EIO;
			}
		}
		for (int i = 0; i < n; i++) {
			merger_decoded_free(&dec[i]);
			rd_kafka_message_destroy(msgs[i]);
		}
		store_batch_free(b);
		if (rc < 0)
			break;
		/* Idle only counts while partitions are ours: a worker waiting for
		 * a rebalance has not caught up with anything yet. */
		if (!m->assigned || m->assigned_at_ns > last_msg)
			last_msg = time_now_ns();
		if (m->idle_exit_ns && time_now_ns() - last_msg > m->idle_exit_ns) {
			log_info("idle for the requested time; exiting");
			break;
		}
	}
out:
	log_info("stopping: %" PRIu64 " events merged, %" PRIu64 " dead-lettered; "
		 "first message at %" PRId64 ", last commit at %" PRId64 " (unix ns)",
		 m->merged_total, m->deadletter_total, m->first_msg_ns, m->last_commit_ns);
	if (topics)
		rd_kafka_topic_partition_list_destroy(topics);
	free(msgs);
	free(dec);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"kafka", required_argument, NULL, 'k'},
	    {"pg", required_argument, NULL, 'p'},
	    {"group", required_argument, NULL, 'g'},
	    {"batch-size", required_argument, NULL, 'b'},
	    {"batch-ms", required_argument, NULL, 'm'},
	    {"exit-when-idle", required_argument, NULL, 'i'},
	    {"metrics-addr", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct merger m = {.batch_size = 1000, .batch_ms = 200};
	const char *config = NULL, *kafka = NULL, *pg = NULL, *group = NULL, *maddr = NULL;
	struct httpd *metrics = NULL;
	char err[512];
	int c, rc = 1;

	log_init("armorsmith-merger");
	if (config_init_defaults(&m.cfg) < 0)
		return 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			kafka = optarg;
			break;
		case 'p':
			pg = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'b':
			m.batch_size = atoi(optarg);
			break;
		case 'm':
			m.batch_ms = atoi(optarg);
			break;
		case 'i':
			if (time_parse_duration(optarg, &m.idle_exit_ns) < 0) {
				log_error("invalid duration for --exit-when-idle: '%s'", optarg);
				return 2;
			}
			break;
		case 'M':
			maddr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (m.batch_size < 1 || m.batch_size > MERGER_MAX_BATCH || m.batch_ms < 1) {
		log_error("--batch-size must be 1..%d and --batch-ms positive", MERGER_MAX_BATCH);
		return 2;
	}
	if (config_load_sources(&m.cfg, config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if ((kafka && config_set(&m.cfg.kafka_brokers, kafka)) ||
	    (pg && config_set(&m.cfg.pg_dsn, pg)) ||
	    (group && config_set(&m.cfg.consumer_group, group)) ||
	    (maddr && config_set(&m.cfg.metrics_addr, maddr)))
		goto out;
	metrics_init("merger", 60);
	m.m_messages =
	    metrics_counter("armorsmith_merger_messages_total", NULL,
			    "Kafka messages consumed and committed (dead letters included).");
	m.m_batches = metrics_counter("armorsmith_merger_batches_total", NULL,
				      "Batches merged into PostgreSQL, one transaction each.");
	m.m_merged = metrics_counter("armorsmith_merger_events_merged_total", NULL,
				     "Events that were new to the behavior store.");
	m.m_deadletters = metrics_counter("armorsmith_merger_deadletters_total", NULL,
					  "Messages sent to armorsmith.deadletter.v1.");
	m.m_merge_failures = metrics_counter("armorsmith_merger_merge_failures_total", NULL,
					     "Batch merges that failed and were retried.");
	m.m_assigned = metrics_gauge("armorsmith_merger_assigned_partitions", NULL,
				     "Partitions currently assigned to this worker.");
	if (m.cfg.metrics_addr && *m.cfg.metrics_addr &&
	    metrics_serve(m.cfg.metrics_addr, &metrics, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (store_open(m.cfg.pg_dsn, &m.store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	m.deadletter = kafka_producer_new(m.cfg.kafka_brokers, NULL, NULL, err, sizeof(err));
	m.consumer = kafka_consumer_new(m.cfg.kafka_brokers, m.cfg.consumer_group, merger_rebalance,
					&m, err, sizeof(err));
	if (!m.deadletter || !m.consumer) {
		log_error("cannot create kafka clients: %s", err);
		goto out;
	}
	if (kafka_check_topic(m.deadletter, m.cfg.kafka_brokers, TOPIC_BEHAVIOR, 10000, err,
			      sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	log_info("merging into postgresql as group %s from %s", m.cfg.consumer_group,
		 m.cfg.kafka_brokers);
	rc = merger_run(&m) < 0;
out:
	if (m.consumer) {
		rd_kafka_consumer_close(m.consumer);
		rd_kafka_destroy(m.consumer);
	}
	if (m.deadletter) {
		rd_kafka_flush(m.deadletter, 10000);
		rd_kafka_destroy(m.deadletter);
	}
	store_close(m.store);
	httpd_stop(metrics);
	config_free(&m.cfg);
	return rc;
}
