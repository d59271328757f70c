/* The Kubernetes side of the builder: watches VarmorPolicy and
 * VarmorClusterPolicy objects in BehaviorModeling mode, publishes their
 * ModelingControl records, moves their status Pending → Modeling →
 * Completed, and writes ArmorProfileModel objects.
 *
 * The compacted control topic is the memory of which runs exist: at start
 * the controller reads it to its end, so a restart neither restarts a run
 * nor forgets one. Policies are then listed and watched (bookmarks, resume
 * from the last resourceVersion, a fresh list after 410 Gone); each one is
 * reconciled by policy_decide(). */
#ifndef ARMORSMITH_CONTROLLER_H
#define ARMORSMITH_CONTROLLER_H

#include "kube.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct controller;

struct controller_stats {
	uint64_t runs_started;
	uint64_t deadlines_moved;
	uint64_t invalid_policies;
	uint64_t watch_restarts; /* watches re-listed after 410 Gone or an error */
};

/* Reads the control topic, then starts one watch thread per policy kind.
 * kube and producer are borrowed and must outlive the controller;
 * install_ns is where cluster policies' models go. */
int controller_start(struct controller **out, struct kube_client *kube, rd_kafka_t *producer,
		     const char *brokers, const char *install_ns, const char *match_label,
		     char *err, size_t errlen);

/* Writes the ArmorProfileModel obj (a complete object as apm_model_build()
 * makes it) to its namespace: storageType CRDInternal, or LocalDisk with
 * empty data when the API server refuses its size (the data is then in the
 * file sink, which the builder wrote before). Its status goes through the
 * status subresource. *local_disk tells which. */
int controller_write_model(struct controller *c, json_t *obj, bool *local_disk, char *err,
			   size_t errlen);

enum controller_owner {
	CONTROLLER_LOCAL,    /* not a Kubernetes policy's run: `armorsmith model` */
	CONTROLLER_OWNED,    /* a policy that exists now */
	CONTROLLER_ORPHANED, /* its policy was deleted: nothing in Kubernetes to write for */
};

/* Who a run belongs to; -EAGAIN until the first lists are in. */
int controller_run_owner(struct controller *c, const char *key);

/* The run key/generation was built: its policy (if it still exists and has
 * not started a newer run) goes to phase Completed, with message. Returns 0
 * (also when there is no such policy) or a negative errno to retry later. */
int controller_run_completed(struct controller *c, const char *key, uint64_t generation,
			     const char *message, char *err, size_t errlen);

void controller_get_stats(struct controller *c, struct controller_stats *out);
void controller_stop(struct controller *c);

#endif
