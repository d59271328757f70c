/* bench-produce: writes synthetic behavior events for the merge benchmark.
 *
 *   bench-produce BROKERS PREFIX POLICIES EVENTS DISTINCT
 *
 * EVENTS events spread over POLICIES policy keys PREFIX/p0.., each carrying
 * one of DISTINCT file or syscall behaviors, with unique event ids, plus one
 * ModelingControl and a Joined report per policy.
 *
 *   bench-produce --complete BROKERS PREFIX POLICIES EVENTS DISTINCT
 *
 * the same for an AppArmorSeccomp run, ending with a Completed report per
 * policy (events_published exact), so the run is built once its deadline is
 * moved to now (bench/build_time.sh).
 *
 *   bench-produce --offsets BROKERS
 *
 * prints "TOPIC PARTITION HIGH" for the control and behavior topics, so a
 * benchmark can start a fresh consumer group at the current end. */
#include "armorsmith/v1/armorsmith.pb-c.h"
#include "kafka.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const syscall_names[] = {"read", "write", "openat", "close", "mmap",
					    "brk",  "futex", "execve", "fstat", "getdents64"};

static int produce_record(rd_kafka_t *rk, const char *key, Armorsmith__V1__BehaviorRecord *rec)
{
	uint8_t buf[1024];
	size_t len = armorsmith__v1__behavior_record__get_packed_size(rec);

	if (len > sizeof(buf))
		return -1;
	armorsmith__v1__behavior_record__pack(rec, buf);
	return kafka_produce(rk, TOPIC_BEHAVIOR, key, buf, len, "armorsmith.v1.BehaviorRecord");
}

static int print_offsets(const char *brokers)
{
	static const char *const topics[] = {TOPIC_CONTROL, TOPIC_BEHAVIOR};
	char err[512];
	rd_kafka_t *rk = kafka_producer_new(brokers, NULL, NULL, err, sizeof(err));

	if (!rk) {
		fprintf(stderr, "bench-produce: %s\n", err);
		return 1;
	}
	for (int t = 0; t < 2; t++) {
		int n = kafka_partition_count(rk, topics[t], 10000);
		for (int p = 0; p < n; p++) {
			int64_t lo, hi;
			if (rd_kafka_query_watermark_offsets(rk, topics[t], p, &lo, &hi, 10000))
				return 1;
			printf("%s %d %" PRId64 "\n", topics[t], p, hi);
		}
	}
	rd_kafka_destroy(rk);
	return 0;
}

int main(int argc, char **argv)
{
	char err[512], key[128], id[256], path[128];
	bool complete = false;
	int policies;
	long events, distinct;
	int64_t t0 = time_now_ns();
	rd_kafka_t *rk;

	if (argc == 3 && strcmp(argv[1], "--offsets") == 0)
		return print_offsets(argv[2]);
	if (argc == 7 && strcmp(argv[1], "--complete") == 0) {
		complete = true;
		argv++;
		argc--;
	}
	if (argc != 6) {
		fprintf(
		    stderr,
		    "usage: bench-produce [--complete] BROKERS PREFIX POLICIES EVENTS DISTINCT\n");
		return 2;
	}
	policies = atoi(argv[3]);
	events = atol(argv[4]);
	distinct = atol(argv[5]);
	if (policies < 1 || events < 1 || distinct < 1) {
		fprintf(stderr, "bench-produce: counts must be positive\n");
		return 2;
	}
	rk = kafka_producer_new(argv[1], NULL, NULL, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "bench-produce: %s\n", err);
		return 1;
	}
	for (int p = 0; p < policies; p++) {
		Armorsmith__V1__ModelingControl c = ARMORSMITH__V1__MODELING_CONTROL__INIT;
		Armorsmith__V1__BehaviorRecord rec = ARMORSMITH__V1__BEHAVIOR_RECORD__INIT;
		Armorsmith__V1__NodeReport rep = ARMORSMITH__V1__NODE_REPORT__INIT;
		uint8_t buf[512];
		size_t len;

		snprintf(key, sizeof(key), "%s/p%d", argv[2], p);
		c.policy_key = key;
		c.profile_name = key + strlen(argv[2]) + 1;
		c.namespace_ = argv[2];
		c.enforcer = complete ? "AppArmorSeccomp" : "Seccomp";
		c.generation = 1;
		c.start_unix_nano = t0;
		/* Far in the future: the benchmark measures merging, not building. */
		c.deadline_unix_nano = t0 + 24 * 3600 * NSEC_PER_SEC;
		c.state = ARMORSMITH__V1__MODELING_CONTROL__STATE__STATE_MODELING;
		len = armorsmith__v1__modeling_control__pack(&c, buf);
		kafka_produce(rk, TOPIC_CONTROL, key, buf, len, "armorsmith.v1.ModelingControl");
		snprintf(id, sizeof(id), "bench-node/%s/joined", key);
		rep.policy_key = key;
		rep.generation = 1;
		rep.node = "bench-node";
		rep.phase = ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_JOINED;
		rep.report_id = id;
		rep.time_unix_nano = t0;
		rec.record_case = ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_REPORT;
		rec.report = &rep;
		produce_record(rk, key, &rec);
	}
	for (long i = 0; i < events; i++) {
		Armorsmith__V1__BehaviorRecord rec = ARMORSMITH__V1__BEHAVIOR_RECORD__INIT;
		Armorsmith__V1__BehaviorEvent ev = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
		Armorsmith__V1__FileBehavior f = ARMORSMITH__V1__FILE_BEHAVIOR__INIT;
		Armorsmith__V1__SyscallBehavior s = ARMORSMITH__V1__SYSCALL_BEHAVIOR__INIT;
		long which = i % distinct;

		snprintf(key, sizeof(key), "%s/p%ld", argv[2], i % policies);
		snprintf(id, sizeof(id), "bench-node/%s/%ld", argv[2], i);
		ev.policy_key = key;
		ev.generation = 1;
		ev.node = "bench-node";
		ev.pid = (uint32_t)(1000 + i % 50);
		ev.comm = "bench";
		ev.time_unix_nano = t0 + i * 1000;
		ev.source = ARMORSMITH__V1__SOURCE__SOURCE_BPF;
		ev.event_id = id;
		if (which < 10) {
			s.name = (char *)syscall_names[which];
			s.arch = "x86_64";
			ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL;
			ev.syscall = &s;
		} else {
			snprintf(path, sizeof(path), "/srv/data/d%ld/f%ld", which % 97, which);
			f.path = path;
			f.permissions = which % 3 ? "r" : "rw";
			f.owner = which % 2;
			ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE;
			ev.file = &f;
		}
		rec.record_case = ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_EVENT;
		rec.event = &ev;
		if (produce_record(rk, key, &rec) < 0)
			return 1;
		if (i % 10000 == 0)
			rd_kafka_poll(rk, 0);
	}
	for (int p = 0; complete && p < policies; p++) {
		Armorsmith__V1__BehaviorRecord rec = ARMORSMITH__V1__BEHAVIOR_RECORD__INIT;
		Armorsmith__V1__NodeReport rep = ARMORSMITH__V1__NODE_REPORT__INIT;

		snprintf(key, sizeof(key), "%s/p%d", argv[2], p);
		snprintf(id, sizeof(id), "bench-node/%s/completed", key);
		rep.policy_key = key;
		rep.generation = 1;
		rep.node = "bench-node";
		rep.phase = ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_COMPLETED;
		rep.events_published = (uint64_t)(events / policies + (p < events % policies));
		rep.report_id = id;
		rep.time_unix_nano = time_now_ns();
		rec.record_case = ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_REPORT;
		rec.report = &rep;
		if (produce_record(rk, key, &rec) < 0)
			return 1;
	}
	if (rd_kafka_flush(rk, 120000)) {
		fprintf(stderr, "bench-produce: messages not delivered in 120s\n");
		return 1;
	}
	rd_kafka_destroy(rk);
	printf("produced %ld events for %d policies in %.2fs\n", events, policies,
	       (double)(time_now_ns() - t0) / 1e9);
	return 0;
}
