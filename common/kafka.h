/* Kafka conventions shared by every program: topic names, client set-up with
 * the settings armorsmith relies on, and a reachability check that names the
 * broker in its error. */
#ifndef ARMORSMITH_KAFKA_H
#define ARMORSMITH_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#define TOPIC_CONTROL "armorsmith.control.v1"
#define TOPIC_BEHAVIOR "armorsmith.behavior.v1"
#define TOPIC_PROFILES "armorsmith.profiles.v1"
#define TOPIC_DEADLETTER "armorsmith.deadletter.v1"

/* Header naming the protobuf message type of a value, for consumers that
 * want to dispatch before decoding. */
#define KAFKA_TYPE_HEADER "armorsmith-type"

/* Idempotent producer, acks=all, no delivery timeout: a message waits in the
 * queue while the broker is down instead of being dropped. */
rd_kafka_t *kafka_producer_new(const char *brokers,
			       void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
			       void *opaque, char *err, size_t errlen);
/* Consumer. With a group, offsets are never auto-committed (the merger keeps
 * them in PostgreSQL); without one the caller assigns partitions itself. */
rd_kafka_t *kafka_consumer_new(const char *brokers, const char *group,
			       void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
						    rd_kafka_topic_partition_list_t *, void *),
			       void *opaque, char *err, size_t errlen);
/* Asks the cluster for metadata of one topic: 0, or -EHOSTUNREACH/-ENOENT
 * with a message naming the brokers and the topic. */
int kafka_check_topic(rd_kafka_t *rk, const char *brokers, const char *topic, int timeout_ms,
		      char *err, size_t errlen);
/* 0, -EMSGSIZE when the message is larger than the producer allows, -EIO. */
int kafka_produce(rd_kafka_t *rk, const char *topic, const char *key, const void *value, size_t len,
		  const char *type_name);
/* Number of partitions of a topic, or a negative errno. */
int kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms);
/* Value of the type header of a message, or NULL. */
const char *kafka_message_type(const rd_kafka_message_t *msg, char *buf, size_t buflen);

#endif
