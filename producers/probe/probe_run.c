#include "probe_run.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The audit subsystem's "no session" value. */
#define AUDIT_SESSION_UNSET 4294967295U

static struct probe_run *find_run(struct probe_runs *runs, const char *key)
{
	for (size_t i = 0; i < runs->len; i++)
		if (strcmp(runs->items[i].policy_key, key) == 0)
			return &runs->items[i];
	return NULL;
}

static void run_clear(struct probe_run *r)
{
	free(r->policy_key);
	free(r->cgroup_path);
	free(r->profile_name);
	strset_free(&r->seen);
	memset(r, 0, sizeof(*r));
}

static int run_init(struct probe_run *r, const Armorsmith__V1__ModelingControl *c)
{
	const Armorsmith__V1__Target *t = c->target;

	memset(r, 0, sizeof(*r));
	r->policy_key = strdup(c->policy_key);
	r->cgroup_path = strdup(t && t->cgroup_path ? t->cgroup_path : "");
	r->profile_name = strdup(c->profile_name);
	if (!r->policy_key || !r->cgroup_path || !r->profile_name) {
		run_clear(r);
		return -ENOMEM;
	}
	r->generation = c->generation;
	r->deadline_ns = c->deadline_unix_nano;
	r->start_ns = c->start_unix_nano;
	r->audit_session = t && t->audit_session != AUDIT_SESSION_UNSET ? t->audit_session : 0;
	r->cgroup_id = t ? t->cgroup_id : 0;
	r->k8s = probe_target_is_k8s(t);
	for (size_t i = 0; i < c->n_sources; i++) {
		if (c->sources[i] == ARMORSMITH__V1__SOURCE__SOURCE_BPF)
			r->src_bpf = true;
		else if (c->sources[i] == ARMORSMITH__V1__SOURCE__SOURCE_SECCOMP_AUDIT)
			r->src_seccomp_audit = true;
		else if (c->sources[i] == ARMORSMITH__V1__SOURCE__SOURCE_APPARMOR_AUDIT)
			r->src_apparmor_audit = true;
	}
	/* Controls written before sources existed meant the audit route. */
	if (!c->n_sources)
		r->src_seccomp_audit = true;
	r->state = PROBE_RUN_JOINING;
	return 0;
}

bool probe_target_is_k8s(const Armorsmith__V1__Target *t)
{
	static const char *const kinds[] = {"Deployment", "StatefulSet", "DaemonSet", "Pod"};

	for (size_t i = 0; t && t->kind && i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(t->kind, kinds[i]) == 0)
			return true;
	return false;
}

struct probe_run *probe_runs_apply(struct probe_runs *runs,
				   const Armorsmith__V1__ModelingControl *c, const char *node,
				   bool kube, int64_t now_ns)
{
	struct probe_run *r = find_run(runs, c->policy_key);
	const Armorsmith__V1__Target *t = c->target;

	if (r && r->generation == c->generation) {
		/* A moved deadline (duration patched, or the command exited). */
		if (r->state == PROBE_RUN_ACTIVE || r->state == PROBE_RUN_JOINING)
			r->deadline_ns = c->deadline_unix_nano;
		return r;
	}
	if (c->state != ARMORSMITH__V1__MODELING_CONTROL__STATE__STATE_MODELING)
		return NULL;
	if (!t || (probe_target_is_k8s(t) ? !kube : strcmp(t->node, node) != 0))
		return NULL;
	if (c->deadline_unix_nano <= now_ns && !r)
		return NULL; /* a finished run seen when re-reading the compacted topic */
	if (r && r->generation > c->generation)
		return NULL; /* a stale generation */
	if (r) {
		if (r->state != PROBE_RUN_DONE)
			log_warn("run %s generation %lu replaced by generation %lu before it ended",
				 r->policy_key, (unsigned long)r->generation,
				 (unsigned long)c->generation);
		run_clear(r);
	} else {
		struct probe_run *n = realloc(runs->items, (runs->len + 1) * sizeof(*n));
		if (!n)
			return NULL;
		runs->items = n;
		r = &runs->items[runs->len++];
	}
	if (run_init(r, c) < 0) {
		runs->len--;
		return NULL;
	}
	return r;
}

bool probe_pid_in_cgroup(uint32_t pid, const char *cgroup_path)
{
	char path[64], line[4096];
	size_t plen = strlen(cgroup_path);
	bool in = false;
	FILE *f;

	if (!plen)
		return false;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return false; /* already exited: the session is what attributes it */
	while (fgets(line, sizeof(line), f)) {
		const char *p;
		if (strncmp(line, "0::", 3) != 0)
			continue;
		p = line + 3;
		line[strcspn(line, "\n")] = '\0';
		in = strncmp(p, cgroup_path, plen) == 0 && (p[plen] == '\0' || p[plen] == '/');
		break;
	}
	fclose(f);
	return in;
}

struct probe_run *probe_runs_attribute(struct probe_runs *runs, uint32_t pid, uint32_t ses,
				       int64_t record_ns)
{
	for (size_t i = 0; i < runs->len; i++) {
		struct probe_run *r = &runs->items[i];

		if (r->state != PROBE_RUN_ACTIVE && r->state != PROBE_RUN_DRAINING)
			continue;
		if (!r->src_seccomp_audit)
			continue;
		/* Behavior after the deadline is not part of the model. */
		if (record_ns > r->deadline_ns)
			continue;
		if (r->audit_session && ses == r->audit_session)
			return r;
		if (!r->audit_session && probe_pid_in_cgroup(pid, r->cgroup_path))
			return r;
	}
	return NULL;
}

void probe_runs_free(struct probe_runs *runs)
{
	for (size_t i = 0; i < runs->len; i++)
		run_clear(&runs->items[i]);
	free(runs->items);
	memset(runs, 0, sizeof(*runs));
}
