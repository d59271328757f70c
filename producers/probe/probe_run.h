/* The modeling runs this node takes part in: which audit records belong to
 * which run, and which behaviors each run has already published. */
#ifndef ARMORSMITH_PROBE_RUN_H
#define ARMORSMITH_PROBE_RUN_H

#include "armorsmith/v1/armorsmith.pb-c.h"
#include "strset.h"

#include <stdbool.h>
#include <stdint.h>

enum probe_run_state {
	PROBE_RUN_JOINING,  /* control seen, Joined report not yet sent */
	PROBE_RUN_ACTIVE,   /* capturing */
	PROBE_RUN_DRAINING, /* deadline passed, reading the log up to the marker */
	PROBE_RUN_DONE,	    /* Completed report sent */
};

struct probe_run {
	char *policy_key;
	uint64_t generation;
	int64_t deadline_ns;
	int64_t start_ns;
	uint32_t audit_session;	 /* 0 when the target has none */
	uint64_t cgroup_id;	 /* the target's cgroup v2 id, 0 when none */
	bool src_bpf;		 /* capture with the BPF programs */
	bool src_seccomp_audit;	 /* read seccomp records from the audit log */
	bool src_apparmor_audit; /* read AppArmor complain-mode records */
	char *profile_name;	 /* AppArmor records are attributed by profile */
	uint32_t bpf_run_id;	 /* this run's id in the BPF maps */
	bool bpf_attached;
	char *cgroup_path; /* relative to the cgroup2 root, "" when none */
	bool k8s;	   /* a Kubernetes target: its containers are discovered */
	bool discovering;  /* handed to pod discovery */
	uint32_t containers; /* containers (cgroups) captured so far */
	enum probe_run_state state;
	struct strset seen; /* "kind:key" of published behaviors */
	uint64_t events_published;
	uint64_t records_seen;
	uint64_t publish_failures;
	uint64_t unresolved; /* records whose syscall number no arch table knows */
	uint64_t lost_at_join;
	bool lost_known;
	char marker[96]; /* token of the audit sync marker while draining */
	bool marker_sent;
	bool marker_seen;
	int64_t drain_started_ns;
};

struct probe_runs {
	struct probe_run *items;
	size_t len;
};

/* Applies a control record; returns the run this node should take part in
 * (new, or with a moved deadline), or NULL when the record is not for us.
 * Local targets name their node; Kubernetes targets (Deployment,
 * StatefulSet, DaemonSet, Pod) concern every node when kube is set, whose
 * pods are then searched for the target's containers. */
struct probe_run *probe_runs_apply(struct probe_runs *runs,
				   const Armorsmith__V1__ModelingControl *c, const char *node,
				   bool kube, int64_t now_ns);
/* Whether a target kind is one of Kubernetes' (not LocalProcess). */
bool probe_target_is_k8s(const Armorsmith__V1__Target *t);
/* The run a process belongs to, by audit session or by cgroup; NULL if none. */
struct probe_run *probe_runs_attribute(struct probe_runs *runs, uint32_t pid, uint32_t ses,
				       int64_t record_ns);
void probe_runs_free(struct probe_runs *runs);

/* Whether pid lives in cgroup path (or below it), from /proc/PID/cgroup. */
bool probe_pid_in_cgroup(uint32_t pid, const char *cgroup_path);

#endif
