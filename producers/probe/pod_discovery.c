#include "pod_discovery.h"
#include "cgroup_find.h"
#include "log.h"
#include "pod_match.h"
#include "strset.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PD_INTERVAL_MS 1000
#define PD_OWNER_TTL_NS (30 * NSEC_PER_SEC)
#define PD_MAX_OWNERS 8

struct pd_run {
	char key[200];
	uint64_t generation;
	struct pod_match_target *target;
	struct strset seen; /* container ids already handed over */
};

/* Work for the thread, queued by the probe's loop. */
struct pd_cmd {
	struct pd_cmd *next;
	bool remove;
	char key[200];
	uint64_t generation;
	struct pod_match_target *target;
};

struct pd_result {
	char key[200];
	uint64_t generation;
	struct pod_found found;
};

struct pd_owner {
	char path[600];
	json_t *obj; /* NULL: 404 */
	int64_t fetched_ns;
};

struct pod_discovery {
	struct kube_client *kube;
	char pods_path[400];
	char label_key[254];
	struct cgroup_index *cgroups;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t lock; /* cmds, results, stats */
	struct pd_cmd *cmds;
	struct pd_result *results;
	size_t n_results;
	struct pod_discovery_stats stats;
	/* the thread's own */
	struct pd_run *runs;
	size_t n_runs;
	struct pd_owner *owners;
	size_t n_owners;
};

static void pd_run_clear(struct pd_run *r)
{
	pod_match_target_free(r->target);
	strset_free(&r->seen);
	memset(r, 0, sizeof(*r));
}

static void pd_apply_cmds(struct pod_discovery *d)
{
	struct pd_cmd *cmds, *next, *rev = NULL;

	pthread_mutex_lock(&d->lock);
	cmds = d->cmds;
	d->cmds = NULL;
	pthread_mutex_unlock(&d->lock);
	/* The queue is newest first: apply oldest first. */
	while (cmds) {
		next = cmds->next;
		cmds->next = rev;
		rev = cmds;
		cmds = next;
	}
	cmds = rev;
	for (struct pd_cmd *c = cmds; c; c = next) {
		size_t i;
		next = c->next;
		for (i = 0; i < d->n_runs && strcmp(d->runs[i].key, c->key); i++)
			;
		if (i < d->n_runs && (c->remove || d->runs[i].generation != c->generation)) {
			pd_run_clear(&d->runs[i]);
			d->runs[i] = d->runs[--d->n_runs];
			i = d->n_runs;
		}
		if (!c->remove && i == d->n_runs) {
			struct pd_run *g = realloc(d->runs, (d->n_runs + 1) * sizeof(*g));
			if (g) {
				d->runs = g;
				g = &d->runs[d->n_runs++];
				memset(g, 0, sizeof(*g));
				snprintf(g->key, sizeof(g->key), "%s", c->key);
				g->generation = c->generation;
				g->target = c->target;
				c->target = NULL;
			}
		}
		pod_match_target_free(c->target);
		free(c);
	}
}

static void pd_owners_expire(struct pod_discovery *d, int64_t now)
{
	for (size_t i = 0; i < d->n_owners;) {
		if (now - d->owners[i].fetched_ns > PD_OWNER_TTL_NS) {
			json_decref(d->owners[i].obj);
			d->owners[i] = d->owners[--d->n_owners];
		} else {
			i++;
		}
	}
}

static const char *pd_plural(const char *kind)
{
	static const char *const map[][2] = {{"Deployment", "deployments"},
					     {"ReplicaSet", "replicasets"},
					     {"StatefulSet", "statefulsets"},
					     {"DaemonSet", "daemonsets"}};

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(kind, map[i][0]))
			return map[i][1];
	return NULL;
}

/* An owner object, from the cache or the API server. NULL when it is gone
 * or cannot be had now. */
static json_t *pd_owner_get(struct pod_discovery *d, const struct pod_match_ref *ref)
{
	const char *plural = pd_plural(ref->kind);
	char path[600], err[512];
	json_t *obj = NULL;
	struct pd_owner *g;
	long status;
	int rc;

	if (!plural || strncmp(ref->api_version, "apps/", 5))
		return NULL;
	snprintf(path, sizeof(path), "/apis/%s/namespaces/%s/%s/%s", ref->api_version,
		 ref->namespace, plural, ref->name);
	for (size_t i = 0; i < d->n_owners; i++)
		if (!strcmp(d->owners[i].path, path))
			return d->owners[i].obj;
	rc = kube_request(d->kube, "GET", path, NULL, &status, &obj, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT) {
		log_warn("pod discovery: %s", err);
		json_decref(obj);
		return NULL; /* not cached: ask again next time */
	}
	if (rc == -ENOENT) {
		json_decref(obj);
		obj = NULL;
	}
	g = realloc(d->owners, (d->n_owners + 1) * sizeof(*g));
	if (!g) {
		json_decref(obj);
		return NULL;
	}
	d->owners = g;
	g = &d->owners[d->n_owners++];
	snprintf(g->path, sizeof(g->path), "%s", path);
	g->obj = obj;
	g->fetched_ns = time_now_ns();
	return obj;
}

static void pd_hand_over(struct pod_discovery *d, struct pd_run *r,
			 const struct pod_match_container *c)
{
	struct pd_result *g;
	struct pod_found f = {0};
	int rc;

	if (strset_contains(&r->seen, c->id))
		return;
	rc = cgroup_find(d->cgroups, c->id, c->pod_uid, f.cgroup, sizeof(f.cgroup), &f.cgroup_id);
	if (rc == -ENOENT)
		return; /* the runtime has not made it yet */
	if (rc < 0) {
		log_warn("pod discovery: cgroup of container %s (%s/%s): %s", c->name, c->namespace,
			 c->pod_name, strerror(-rc));
		return;
	}
	snprintf(f.pod, sizeof(f.pod), "%s/%s", c->namespace, c->pod_name);
	snprintf(f.container, sizeof(f.container), "%s", c->name);
	snprintf(f.id, sizeof(f.id), "%s", c->id);
	if (strset_add(&r->seen, c->id) < 0)
		return;
	pthread_mutex_lock(&d->lock);
	g = realloc(d->results, (d->n_results + 1) * sizeof(*g));
	if (g) {
		d->results = g;
		g = &d->results[d->n_results++];
		snprintf(g->key, sizeof(g->key), "%s", r->key);
		g->generation = r->generation;
		g->found = f;
		d->stats.found++;
	}
	pthread_mutex_unlock(&d->lock);
}

static void pd_match_pod(struct pod_discovery *d, struct pd_run *r, json_t *pod)
{
	const json_t *owners[PD_MAX_OWNERS];
	struct pod_match_result res;
	struct pod_match_ref next;
	size_t n = 0;
	char err[512];
	int rc;

	while ((rc = pod_match_owner_next(r->target, pod, owners, n, &next, err, sizeof(err))) ==
	       1) {
		json_t *o;
		if (n == PD_MAX_OWNERS)
			return;
		o = pd_owner_get(d, &next);
		if (!o)
			return; /* gone (the pod is being deleted) or unreachable now */
		owners[n++] = o;
	}
	if (rc < 0)
		return;
	if (pod_match_pod(r->target, pod, owners, n, &res, err, sizeof(err)) < 0)
		return;
	if (res.verdict == POD_MATCH_YES)
		for (size_t i = 0; i < res.n_containers; i++)
			pd_hand_over(d, r, &res.containers[i]);
	pod_match_result_free(&res);
}

static int pd_collect_pod(const char *type, json_t *object, void *ctx)
{
	(void)type;
	return json_array_append(ctx, object) ? -1 : 0;
}

static void pd_scan(struct pod_discovery *d)
{
	json_t *pods = json_array(), *pod;
	char rv[64], err[512];
	size_t i;
	int rc;

	if (!pods)
		return;
	rc = kube_list(d->kube, d->pods_path, pd_collect_pod, pods, rv, sizeof(rv), err,
		       sizeof(err));
	pthread_mutex_lock(&d->lock);
	d->stats.lists++;
	if (rc < 0)
		d->stats.list_errors++;
	pthread_mutex_unlock(&d->lock);
	if (rc < 0) {
		log_warn("pod discovery: %s", err);
		goto out;
	}
	pd_owners_expire(d, time_now_ns());
	json_array_foreach(pods, i, pod)
	{
		for (size_t r = 0; r < d->n_runs; r++)
			pd_match_pod(d, &d->runs[r], pod);
	}
out:
	json_decref(pods);
}

static void *pd_thread(void *arg)
{
	struct pod_discovery *d = arg;

	while (!atomic_load(&d->stop)) {
		pd_apply_cmds(d);
		if (d->n_runs)
			pd_scan(d);
		for (int i = 0; i < PD_INTERVAL_MS / 50 && !atomic_load(&d->stop); i++)
			usleep(50000);
	}
	return NULL;
}

int pod_discovery_start(struct pod_discovery **out, struct kube_client *kube, const char *node,
			const char *label_key, const char *cgroup_root, char *err, size_t errlen)
{
	struct pod_discovery *d = calloc(1, sizeof(*d));
	char *esc = NULL;
	int rc;

	if (!d)
		return -ENOMEM;
	d->kube = kube;
	pthread_mutex_init(&d->lock, NULL);
	snprintf(d->label_key, sizeof(d->label_key), "%s", label_key ? label_key : "");
	esc = curl_easy_escape(NULL, node, 0);
	if (!esc) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((size_t)snprintf(d->pods_path, sizeof(d->pods_path),
			     "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s",
			     esc) >= sizeof(d->pods_path)) {
		snprintf(err, errlen, "node name '%s' is too long", node);
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = cgroup_index_new(&d->cgroups, cgroup_root, 0, CGROUP_FIND_REFRESH_MS, err, errlen);
	if (rc < 0)
		goto fail;
	rc = -pthread_create(&d->thread, NULL, pd_thread, d);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the pod discovery thread: %s", strerror(-rc));
		goto fail;
	}
	d->started = true;
	curl_free(esc);
	*out = d;
	return 0;
fail:
	curl_free(esc);
	pod_discovery_stop(d);
	return rc;
}

static int pd_queue(struct pod_discovery *d, bool remove, const char *key, uint64_t generation,
		    struct pod_match_target *t)
{
	struct pd_cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->remove = remove;
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->generation = generation;
	c->target = t;
	pthread_mutex_lock(&d->lock);
	c->next = d->cmds;
	d->cmds = c;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int pod_discovery_add_run(struct pod_discovery *d, const char *key, uint64_t generation,
			  const Armorsmith__V1__Target *target, const char *enforcer, char *err,
			  size_t errlen)
{
	struct pod_match_spec spec = {
	    .kind = target->kind,
	    .name = target->name,
	    .selector_json = target->selector_json,
	    .containers = (const char *const *)target->containers,
	    .n_containers = target->n_containers,
	    .namespace = target->namespace_,
	    .enforcer = enforcer,
	    .label_key = d->label_key,
	    .label_value = POD_MATCH_LABEL_VALUE,
	};
	struct pod_match_target *t;
	int rc;

	if (strlen(key) >= sizeof(((struct pd_cmd *)0)->key)) {
		snprintf(err, errlen, "policy key '%.60s...' is too long", key);
		return -ENAMETOOLONG;
	}
	rc = pod_match_target_new(&spec, &t, err, errlen);
	if (rc < 0)
		return rc;
	rc = pd_queue(d, false, key, generation, t);
	if (rc < 0)
		pod_match_target_free(t);
	return rc;
}

void pod_discovery_remove_run(struct pod_discovery *d, const char *key)
{
	if (pd_queue(d, true, key, 0, NULL) < 0)
		log_warn("pod discovery: cannot queue the end of run %s", key);
}

int pod_discovery_take(struct pod_discovery *d, const char *key, uint64_t generation,
		       struct pod_found **out, size_t *n)
{
	struct pod_found *f = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_results;) {
		struct pd_result *r = &d->results[i];
		if (strcmp(r->key, key) || r->generation != generation) {
			i++;
			continue;
		}
		if (!f && !(f = calloc(d->n_results, sizeof(*f)))) {
			pthread_mutex_unlock(&d->lock);
			return -ENOMEM;
		}
		f[k++] = r->found;
		d->results[i] = d->results[--d->n_results];
	}
	pthread_mutex_unlock(&d->lock);
	*out = f;
	*n = k;
	return 0;
}

void pod_discovery_get_stats(struct pod_discovery *d, struct pod_discovery_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->stats;
	pthread_mutex_unlock(&d->lock);
}

void pod_discovery_stop(struct pod_discovery *d)
{
	if (!d)
		return;
	atomic_store(&d->stop, true);
	if (d->started)
		pthread_join(d->thread, NULL);
	pd_apply_cmds(d); /* frees what is still queued */
	for (size_t i = 0; i < d->n_runs; i++)
		pd_run_clear(&d->runs[i]);
	free(d->runs);
	for (size_t i = 0; i < d->n_owners; i++)
		json_decref(d->owners[i].obj);
	free(d->owners);
	free(d->results);
	cgroup_index_free(d->cgroups);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
