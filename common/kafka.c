#include "kafka.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int kafka_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	if (rd_kafka_conf_set(conf, k, v, err, errlen) != RD_KAFKA_CONF_OK)
		return -EINVAL;
	return 0;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	/* librdkafka logs every broker reconnect at level 3; keep those at debug
	 * so a stopped broker is reported once by the program, not per retry. */
	if (level <= 2)
		log_error("kafka %s: %s", fac, buf);
	else
		log_debug("kafka %s: %s", fac, buf);
}

rd_kafka_t *kafka_producer_new(const char *brokers,
			       void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
			       void *opaque, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (kafka_set(conf, "bootstrap.servers", brokers, err, errlen) ||
	    kafka_set(conf, "enable.idempotence", "true", err, errlen) ||
	    kafka_set(conf, "acks", "all", err, errlen) ||
	    kafka_set(conf, "message.timeout.ms", "0", err, errlen) ||
	    kafka_set(conf, "linger.ms", "5", err, errlen) ||
	    kafka_set(conf, "compression.codec", "lz4", err, errlen) ||
	    /* Profiles of big workloads: the topics allow as much (deploy/local/kafka.sh). */
	    kafka_set(conf, "message.max.bytes", "67108864", err, errlen) ||
	    kafka_set(conf, "log.connection.close", "false", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	if (dr_cb)
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_opaque(conf, opaque);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

rd_kafka_t *kafka_consumer_new(const char *brokers, const char *group,
			       void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
						    rd_kafka_topic_partition_list_t *, void *),
			       void *opaque, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char anon[64];

	if (!group) {
		/* librdkafka wants a group id even for manual assignment; this one
		 * never commits and never joins. */
		snprintf(anon, sizeof(anon), "armorsmith-reader-%d", (int)getpid());
		group = anon;
	}
	if (kafka_set(conf, "bootstrap.servers", brokers, err, errlen) ||
	    kafka_set(conf, "group.id", group, err, errlen) ||
	    kafka_set(conf, "enable.auto.commit", "false", err, errlen) ||
	    kafka_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    kafka_set(conf, "auto.offset.reset", "earliest", err, errlen) ||
	    kafka_set(conf, "enable.partition.eof", "true", err, errlen) ||
	    kafka_set(conf, "session.timeout.ms", "6000", err, errlen) ||
	    kafka_set(conf, "heartbeat.interval.ms", "1000", err, errlen) ||
	    /* With the default 1 MiB a merger catching up on a backlog waited
	     * for fetches between batches: 8 MiB per partition took
	     * bench/merge_throughput.sh from ~160k to ~200k events/s. */
	    kafka_set(conf, "max.partition.fetch.bytes", "8388608", err, errlen) ||
	    /* librdkafka 2.0 stops fetching once queued.min.messages are
	     * queued and looks again only some 0.5-1 s later: a merger
	     * catching up (100k-message batches) then sat idle for that
	     * long in 2 of 5 runs (debug=fetch). At 400k the 64 MiB of
	     * queued.max.messages.kbytes is the bound that holds. */
	    kafka_set(conf, "queued.min.messages", "400000", err, errlen) ||
	    kafka_set(conf, "log.connection.close", "false", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	if (rebalance_cb)
		rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_opaque(conf, opaque);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

int kafka_check_topic(rd_kafka_t *rk, const char *brokers, const char *topic, int timeout_ms,
		      char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e;
	int rc = 0;

	if (!rkt) {
		snprintf(err, errlen, "cannot create topic handle for %s", topic);
		return -ENOMEM;
	}
	e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	if (e) {
		snprintf(err, errlen,
			 "kafka unreachable at %s: %s (start it with deploy/local/services.sh up, "
			 "or set --kafka / ARMORSMITH_KAFKA_BROKERS)",
			 brokers, rd_kafka_err2str(e));
		rc = -EHOSTUNREACH;
		goto out;
	}
	if (md->topic_cnt != 1 || md->topics[0].err) {
		snprintf(err, errlen,
			 "kafka at %s has no topic %s: %s (create it with deploy/local/kafka.sh "
			 "create-topics)",
			 brokers, topic,
			 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not listed");
		rc = -ENOENT;
	}
	rd_kafka_metadata_destroy(md);
out:
	rd_kafka_topic_destroy(rkt);
	return rc;
}

int kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int n;

	if (!rkt)
		return -ENOMEM;
	if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms)) {
		rd_kafka_topic_destroy(rkt);
		return -EHOSTUNREACH;
	}
	n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : -ENOENT;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return n;
}

int kafka_produce(rd_kafka_t *rk, const char *topic, const char *key, const void *value, size_t len,
		  const char *type_name)
{
	rd_kafka_resp_err_t e;

	for (;;) {
		e = rd_kafka_producev(
		    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
		    RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_HEADER(KAFKA_TYPE_HEADER, type_name,
				      type_name ? (ssize_t)strlen(type_name) : 0),
		    RD_KAFKA_V_END);
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* Back-pressure: serve delivery reports until the queue drains. */
		rd_kafka_poll(rk, 100);
	}
	if (e) {
		log_error("cannot produce to %s: %s", topic, rd_kafka_err2str(e));
		return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? -EMSGSIZE : -EIO;
	}
	return 0;
}

const char *kafka_message_type(const rd_kafka_message_t *msg, char *buf, size_t buflen)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *val;
	size_t len;

	if (rd_kafka_message_headers(msg, &hdrs) || !hdrs)
		return NULL;
	if (rd_kafka_header_get_last(hdrs, KAFKA_TYPE_HEADER, &val, &len) || !val || len >= buflen)
		return NULL;
	memcpy(buf, val, len);
	buf[len] = '\0';
	return buf;
}
