/* Finds the containers of Kubernetes modeling runs on this node: a thread
 * lists the node's pods (field selector spec.nodeName) about once a second
 * while any run wants containers, walks each pod's owner chain through the
 * API server (cached briefly), asks pod_match which containers the run
 * captures, and finds their cgroups with cgroup_find. The probe's loop
 * takes what was found and never waits for the API server. */
#ifndef ARMORSMITH_POD_DISCOVERY_H
#define ARMORSMITH_POD_DISCOVERY_H

#include "armorsmith/v1/armorsmith.pb-c.h"
#include "kube.h"

#include <stddef.h>
#include <stdint.h>

struct pod_discovery;

struct pod_found {
	char pod[320];	    /* namespace/name */
	char container[64]; /* container name */
	char id[65];	    /* container id */
	char cgroup[512];   /* cgroup v2 path, relative to the cgroup2 root */
	uint64_t cgroup_id;
};

struct pod_discovery_stats {
	uint64_t lists;	      /* pod lists made */
	uint64_t list_errors; /* lists that failed */
	uint64_t found;	      /* containers handed to runs */
};

/* node: this node's name as the pods' spec.nodeName has it; label_key:
 * the match label ("" = no label check); cgroup_root: NULL for the cgroup2
 * mount. kube is borrowed. */
int pod_discovery_start(struct pod_discovery **out, struct kube_client *kube, const char *node,
			const char *label_key, const char *cgroup_root, char *err, size_t errlen);

/* Looks for the containers of run key (generation) from now on; an earlier
 * generation of the key is forgotten. -EINVAL (err says why) for a target
 * pod_match refuses. */
int pod_discovery_add_run(struct pod_discovery *d, const char *key, uint64_t generation,
			  const Armorsmith__V1__Target *target, const char *enforcer, char *err,
			  size_t errlen);
void pod_discovery_remove_run(struct pod_discovery *d, const char *key);

/* The containers found for key/generation since the last call, each once
 * per run: *out (free() it) gets *n entries. */
int pod_discovery_take(struct pod_discovery *d, const char *key, uint64_t generation,
		       struct pod_found **out, size_t *n);

void pod_discovery_get_stats(struct pod_discovery *d, struct pod_discovery_stats *out);
void pod_discovery_stop(struct pod_discovery *d);

#endif
