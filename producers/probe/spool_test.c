/* The spool without a reachable broker: records queue in order on disk,
 * survive a restart, and the bound drops (and counts) what does not fit. */
#include "kafka.h"
#include "spool.h"
#include "testing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static rd_kafka_t *unreachable_producer(void)
{
	char err[256];
	/* Port 1 on loopback: nothing listens, messages stay queued. */
	rd_kafka_t *rk = kafka_producer_new("127.0.0.1:1", NULL, NULL, err, sizeof(err));
	if (!rk)
		fprintf(stderr, "spool_test: %s\n", err);
	return rk;
}

static void test_spools_in_order_and_survives_restart(const char *dir)
{
	rd_kafka_t *rk = unreachable_producer();
	struct spool *sp = NULL;
	struct spool_stats st;
	char err[256], key[32], val[64];

	CHECK(rk != NULL);
	if (!rk)
		return;
	CHECK(spool_open(dir, 1 << 20, 4, &sp, err, sizeof(err)) == 0);
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "ns/p%d", i % 3);
		snprintf(val, sizeof(val), "value-%d", i);
		CHECK(spool_publish(sp, rk, TOPIC_BEHAVIOR, key, val, strlen(val), "t") == 0);
	}
	spool_get_stats(sp, &st);
	/* At most four go to librdkafka's queue (its length also counts the
	 * producer's own pending requests), the rest to disk, in order. */
	CHECK(st.spooled >= 16 && st.spooled < 20 && st.dropped == 0 && st.bytes > 0);
	CHECK(spool_pending(sp));
	/* With the queue still full nothing moves. */
	CHECK(spool_drain(sp, rk) == 0);
	spool_close(sp);
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
	rd_kafka_destroy(rk);

	/* A restarted probe finds the same records waiting. */
	rk = unreachable_producer();
	CHECK(spool_open(dir, 1 << 20, 40, &sp, err, sizeof(err)) == 0);
	spool_get_stats(sp, &st);
	CHECK(spool_pending(sp) && st.bytes > 0);
	/* Room in the queue now: everything moves, oldest first. */
	CHECK(spool_drain(sp, rk) >= 16);
	CHECK(!spool_pending(sp));
	CHECK(rd_kafka_outq_len(rk) >= 16);
	spool_close(sp);
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
	rd_kafka_destroy(rk);
}

static void test_bound_drops_and_counts(const char *dir)
{
	rd_kafka_t *rk = unreachable_producer();
	struct spool *sp = NULL;
	struct spool_stats st;
	char err[256], val[200];
	int refused = 0;

	if (!rk)
		return;
	memset(val, 'x', sizeof(val));
	CHECK(spool_open(dir, 1000, 1, &sp, err, sizeof(err)) == 0);
	for (int i = 0; i < 20; i++)
		refused +=
		    spool_publish(sp, rk, TOPIC_BEHAVIOR, "k", val, sizeof(val), "t") == -ENOSPC;
	spool_get_stats(sp, &st);
	CHECK(refused > 0);
	CHECK(st.dropped == (uint64_t)refused);
	CHECK(st.bytes <= 1000);
	CHECK(st.spooled + st.dropped <= 20 && st.spooled + st.dropped >= 19);
	spool_close(sp);
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
	rd_kafka_destroy(rk);
}

static void test_corrupt_spool_is_discarded_not_fatal(const char *dir)
{
	char path[512], err[256];
	struct spool *sp = NULL;
	rd_kafka_t *rk = unreachable_producer();
	FILE *f;

	snprintf(path, sizeof(path), "%s/spool.data", dir);
	f = fopen(path, "wb");
	fputs("garbage that is not a spool record at all", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/spool.pos", dir);
	unlink(path);
	CHECK(spool_open(dir, 1 << 20, 10, &sp, err, sizeof(err)) == 0);
	CHECK(spool_drain(sp, rk) == 0);
	CHECK(!spool_pending(sp));
	spool_close(sp);
	rd_kafka_destroy(rk);
}

int main(void)
{
	char dir1[] = "/tmp/armorsmith-spool-XXXXXX", dir2[] = "/tmp/armorsmith-spool-XXXXXX",
	     dir3[] = "/tmp/armorsmith-spool-XXXXXX", cmd[256];

	if (!mkdtemp(dir1) || !mkdtemp(dir2) || !mkdtemp(dir3))
		return 1;
	test_spools_in_order_and_survives_restart(dir1);
	test_bound_drops_and_counts(dir2);
	test_corrupt_spool_is_discarded_not_fatal(dir3);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s %s", dir1, dir2, dir3);
	if (system(cmd) != 0)
		fprintf(stderr, "spool_test: cannot remove temp dirs\n");
	return TEST_SUMMARY();
}
