/* armorsmith-merger: a consumer-group worker that merges behavior events,
 * node reports and modeling controls into the PostgreSQL behavior store, one
 * transaction per batch together with the consumed offsets. */
#include "config.h"
#include "httpd.h"
#include "kafka.h"
#include "log.h"
#include "merge_worker.h"
#include "merger.h"
#include "metrics.h"
#include "store.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Under a backlog a batch fills up to --batch-size: the set unions cost per
 * distinct behavior in a batch, so bigger batches cost less per event. The
 * batch copies what it keeps (about 300 bytes an event). */
#define MERGER_MAX_BATCH 1000000
#define MERGER_DEFAULT_BATCH 100000
#define MERGER_POLL_MESSAGES 1024

static volatile sig_atomic_t merger_stop;

struct merger {
	struct armorsmith_config cfg;
	struct store *store;	     /* the merge worker's connection */
	struct store *offsets_store; /* the consumer thread's: rebalances, partitions */
	struct merge_worker *worker;
	rd_kafka_t *consumer;
	rd_kafka_queue_t *queue; /* the consumer's queue: messages and rebalances */
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
	    "  --batch-size N     most messages per transaction (default %d)\n"
	    "  --batch-ms MS      longest wait to fill a batch while none is merging\n"
	    "                     (default 200; while one merges, the next one grows)\n"
	    "  --exit-when-idle D exit after D (e.g. 5s) without messages (for replays)\n"
	    "  --metrics-addr H:P serve /healthz and /metrics over HTTP on HOST:PORT\n"
	    "                     (http.metrics_addr, env ARMORSMITH_METRICS_ADDR; default off)\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "History is partitioned by UTC day; store.history_retention (env\n"
	    "ARMORSMITH_HISTORY_RETENTION, e.g. 30d; default: keep all) drops older days.\n",
	    CONFIG_DEFAULT_BROKERS, MERGER_DEFAULT_BATCH);
}

/* Partitions assigned to this worker resume from the offsets in PostgreSQL,
 * which are the only committed offsets that count. */
static void merger_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct merger *m = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* The batch in flight may hold these partitions' next offsets. */
		if (m->worker)
			merge_worker_wait(m->worker);
		for (int i = 0; i < parts->cnt; i++) {
			rd_kafka_topic_partition_t *p = &parts->elems[i];
			int64_t off;
			if (store_load_offset(m->offsets_store, m->cfg.consumer_group, p->topic,
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
static void merger_offset_metrics(const rd_kafka_topic_partition_list_t *done)
{
	for (int i = 0; i < done->cnt; i++) {
		char labels[200], part[16];

		snprintf(part, sizeof(part), "%d", done->elems[i].partition);
		if (metrics_labels(labels, sizeof(labels), "topic", done->elems[i].topic,
				   "partition", part, NULL) == 0)
			metric_set(metrics_gauge("armorsmith_merger_committed_offset", labels,
						 "Next offset to consume per partition, stored in "
						 "PostgreSQL with the last merged batch."),
				   done->elems[i].offset);
	}
}

/* Adds one consumed message to the batch (or to the dead letters); the
 * message can be destroyed right after. */
static int merger_take(struct merger *m, struct store_batch *b, const rd_kafka_message_t *msg,
		       rd_kafka_topic_partition_list_t *done)
{
	const char *topic = rd_kafka_topic_name(msg->rkt);
	rd_kafka_topic_partition_t *tp;
	struct merger_decoded dec;
	char reason[256];
	int rc = 0;

	if (merger_decode(topic, msg->key, msg->key_len, msg->payload, msg->len, &dec, reason,
			  sizeof(reason)) < 0) {
		rc = merger_deadletter(m, msg, reason);
		if (rc == 0)
			rc = store_batch_note_message(b, topic, msg->partition, msg->offset);
	} else if (dec.kind == MERGER_EVENT) {
		rc =
		    store_batch_add_event(b, dec.record->event, topic, msg->partition, msg->offset);
	} else {
		if (dec.kind == MERGER_REPORT)
			rc = store_batch_add_report(b, dec.record->report);
		else if (dec.kind == MERGER_CONTROL)
			rc = store_batch_add_control(b, dec.control);
		if (rc == 0)
			rc = store_batch_note_message(b, topic, msg->partition, msg->offset);
	}
	merger_decoded_free(&dec);
	if (rc == 0)
		rc = store_batch_add_offset(b, topic, msg->partition, msg->offset + 1);
	if (rc < 0)
		return rc;
	tp = rd_kafka_topic_partition_list_find(done, topic, msg->partition);
	if (!tp)
		tp = rd_kafka_topic_partition_list_add(done, topic, msg->partition);
	tp->offset = msg->offset + 1;
	return 0;
}

struct merge_job {
	struct store_batch *batch;
	rd_kafka_topic_partition_list_t *done; /* next offset per partition */
	int messages;
};

static void merge_job_free(struct merge_job *j)
{
	if (!j)
		return;
	store_batch_free(j->batch);
	if (j->done)
		rd_kafka_topic_partition_list_destroy(j->done);
	free(j);
}

/* On the merge worker's thread. */
static int merger_merge_job(void *arg, void *p)
{
	struct merger *m = arg;
	struct merge_job *j = p;
	int rc = merger_commit(m, j->batch);

	if (rc == 0) {
		/* Kafka's copy of the offsets is for lag monitoring only. */
		rd_kafka_commit(m->consumer, j->done, 1);
		m->last_commit_ns = time_now_ns();
		metric_add(m->m_messages, (uint64_t)j->messages);
		merger_offset_metrics(j->done);
	}
	merge_job_free(j);
	return rc;
}

/* Makes the coming days' history partitions, drops whole days older than
 * store.history_retention and indexes the days that are over, at start and
 * then every ten minutes. */
static void merger_expire_history(struct merger *m, int64_t *next_ns)
{
	int64_t now = time_now_ns();
	int dropped, sealed;

	if (now < *next_ns)
		return;
	*next_ns = now + 600 * NSEC_PER_SEC;
	if (store_history_prepare(m->offsets_store, now) < 0 ||
	    store_history_expire(m->offsets_store, now, m->cfg.history_retention_ns, &dropped) <
		0 ||
	    store_history_seal(m->offsets_store, now, &sealed) < 0)
		log_warn("cannot prepare, expire or index history partitions; trying again later");
}

static int merger_run(struct merger *m)
{
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
	int64_t last_msg = time_now_ns(), next_expire = 0;
	rd_kafka_resp_err_t e;
	int rc = 0;

	if (!topics)
		return -ENOMEM;
	rd_kafka_topic_partition_list_add(topics, TOPIC_CONTROL, RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, TOPIC_BEHAVIOR, RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(m->consumer, topics);
	if (e) {
		log_error("cannot subscribe: %s", rd_kafka_err2str(e));
		rc = -EIO;
		goto out;
	}
	while (!merger_stop) {
		struct merge_job *j = calloc(1, sizeof(*j));
		int n = 0;
		int64_t until = time_now_ns() + (int64_t)m->batch_ms * NSEC_PER_MSEC;

		metrics_health_tick();
		merger_expire_history(m, &next_expire);
		if (j) {
			j->batch = store_batch_new();
			j->done = rd_kafka_topic_partition_list_new(8);
		}
		if (!j || !j->batch || !j->done) {
			merge_job_free(j);
			rc = -ENOMEM;
			break;
		}
		int64_t left = m->batch_ms;

		while (n < m->batch_size && !merger_stop) {
			rd_kafka_message_t *msgs[MERGER_POLL_MESSAGES];
			size_t want = MERGER_POLL_MESSAGES;
			ssize_t got;

			left = (until - time_now_ns()) / NSEC_PER_MSEC;
			/* Past --batch-ms the batch still grows while the previous
			 * one merges: under a backlog batches become as large as
			 * the merge is slow, which is what makes the merge cheap
			 * per event. */
			if (left <= 0) {
				if (n == 0 || !merge_worker_busy(m->worker))
					break;
				left = 5;
			}
			if (want > (size_t)(m->batch_size - n))
				want = (size_t)(m->batch_size - n);
			/* Many messages per call: one message per
			 * rd_kafka_consumer_poll() cost the reader thread, the
			 * merger's busiest, a queue lock and clock reads per
			 * message (14% of its time in clock_gettime). */
			got = rd_kafka_consume_batch_queue(m->queue, (int)left, msgs, want);
			if (got < 0) {
				log_warn("consumer: %s", rd_kafka_err2str(rd_kafka_last_error()));
				continue;
			}
			for (ssize_t i = 0; i < got; i++) {
				rd_kafka_message_t *msg = msgs[i];

				if (msg->err) {
					if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
						log_warn("consumer: %s",
							 rd_kafka_message_errstr(msg));
				} else if (rc == 0) {
					rc = merger_take(m, j->batch, msg, j->done);
					if (rc < 0) {
						log_error("cannot add a message to the batch: %s",
							  strerror(-rc));
						merger_stop = 1;
					} else {
						n++;
					}
				}
				rd_kafka_message_destroy(msg);
			}
		}
		if (n > 0 && rc == 0) {
			last_msg = time_now_ns();
			if (!m->first_msg_ns)
				m->first_msg_ns = last_msg;
			j->messages = n;
			/* While this batch merges, the next one is read. */
			if (merge_worker_submit(m->worker, j) < 0) {
				merge_job_free(j);
				rc = merger_stop ? 0 : -EIO;
				break;
			}
		} else {
			merge_job_free(j);
		}
		if (rc < 0)
			break;
		/* Idle only counts while partitions are ours: a worker waiting for
		 * a rebalance has not caught up with anything yet. */
		if (!m->assigned || m->assigned_at_ns > last_msg)
			last_msg = time_now_ns();
		if (m->idle_exit_ns && time_now_ns() - last_msg > m->idle_exit_ns &&
		    merge_worker_wait(m->worker) == 0) {
			log_info("idle for the requested time; exiting");
			break;
		}
	}
	if (merge_worker_wait(m->worker) < 0 && rc == 0 && !merger_stop)
		rc = -EIO;
out:
	log_info("stopping: %" PRIu64 " events merged, %" PRIu64 " dead-lettered; "
		 "first message at %" PRId64 ", last commit at %" PRId64 " (unix ns)",
		 m->merged_total, m->deadletter_total, m->first_msg_ns, m->last_commit_ns);
	rd_kafka_topic_partition_list_destroy(topics);
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
	struct merger m = {.batch_size = MERGER_DEFAULT_BATCH, .batch_ms = 200};
	const char *config = NULL, *kafka = NULL, *pg = NULL, *group = NULL, *maddr = NULL;
	struct httpd *metrics = NULL;
	char err[512];
	int c, rc = 1;

	log_init("armorsmith-merger");
	/* Batches are tens of megabytes, made and freed every few hundred
	 * milliseconds: keep that memory in the heap instead of mapping it
	 * afresh (and faulting it in) for every batch. */
	mallopt(M_MMAP_THRESHOLD, 512 << 20);
	mallopt(M_TRIM_THRESHOLD, 1024 << 20);
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
	if (store_open(m.cfg.pg_dsn, &m.store, err, sizeof(err)) < 0 ||
	    store_open(m.cfg.pg_dsn, &m.offsets_store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (store_history_prepare(m.offsets_store, time_now_ns()) < 0) {
		log_error("cannot create the history partitions in postgresql at '%s'",
			  m.cfg.pg_dsn);
		goto out;
	}
	m.deadletter = kafka_producer_new(m.cfg.kafka_brokers, NULL, NULL, err, sizeof(err));
	m.consumer = kafka_consumer_new(m.cfg.kafka_brokers, m.cfg.consumer_group, merger_rebalance,
					&m, err, sizeof(err));
	if (!m.deadletter || !m.consumer) {
		log_error("cannot create kafka clients: %s", err);
		goto out;
	}
	m.queue = rd_kafka_queue_get_consumer(m.consumer);
	if (!m.queue) {
		log_error("cannot get the kafka consumer's queue");
		goto out;
	}
	if (kafka_check_topic(m.deadletter, m.cfg.kafka_brokers, TOPIC_BEHAVIOR, 10000, err,
			      sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	log_info("merging into postgresql as group %s from %s", m.cfg.consumer_group,
		 m.cfg.kafka_brokers);
	if (merge_worker_start(merger_merge_job, &m, &m.worker) < 0) {
		log_error("cannot start the merge thread");
		goto out;
	}
	rc = merger_run(&m) < 0;
out:
	merge_worker_stop(m.worker);
	m.worker = NULL; /* consumer_close() below runs the rebalance callback */
	if (m.queue)
		rd_kafka_queue_destroy(m.queue);
	if (m.consumer) {
		rd_kafka_consumer_close(m.consumer);
		rd_kafka_destroy(m.consumer);
	}
	if (m.deadletter) {
		rd_kafka_flush(m.deadletter, 10000);
		rd_kafka_destroy(m.deadletter);
	}
	store_close(m.store);
	store_close(m.offsets_store);
	httpd_stop(metrics);
	config_free(&m.cfg);
	return rc;
}
