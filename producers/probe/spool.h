/* The probe's publisher with an on-disk spool. While Kafka takes messages,
 * they go straight to librdkafka. When the broker is unreachable (librdkafka's
 * queue stops draining) records are appended to a bounded spool file and
 * re-published in order once the broker is back, so a node's report never
 * overtakes its events. A restarted probe resumes the spool where it left
 * off. What does not fit in the bound is counted, never dropped silently. */
#ifndef ARMORSMITH_SPOOL_H
#define ARMORSMITH_SPOOL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

struct spool;

struct spool_stats {
	uint64_t spooled;  /* records written to the spool file */
	uint64_t replayed; /* records taken from it and handed to Kafka */
	uint64_t dropped;  /* records refused because the spool was full */
	uint64_t bytes;	   /* bytes waiting in the spool now */
};

/* dir holds spool.data and spool.pos; max_bytes bounds spool.data;
 * queue_limit is how many messages may wait in librdkafka before spooling. */
int spool_open(const char *dir, uint64_t max_bytes, int queue_limit, struct spool **out, char *err,
	       size_t errlen);
/* Publishes (or spools) one record. -ENOSPC when the spool is full: the
 * record is counted as dropped and the caller must report it. */
int spool_publish(struct spool *sp, rd_kafka_t *rk, const char *topic, const char *key,
		  const void *value, size_t len, const char *type);
/* Moves spooled records to Kafka while its queue has room; call often. */
int spool_drain(struct spool *sp, rd_kafka_t *rk);
/* True while records wait in the spool. */
int spool_pending(const struct spool *sp);
void spool_get_stats(const struct spool *sp, struct spool_stats *out);
void spool_close(struct spool *sp);

#endif
