/* The Kubernetes client against a real kube-apiserver (KUBECONFIG, plus
 * ARMORSMITH_KUBE_SERVER/_CA/_NOBODY_TOKEN/_CLIENT_CERT/_CLIENT_KEY from
 * `deploy/local/kube-apiserver.sh env`). Everything happens in a namespace
 * of its own, removed at the end. Run by integration-tests/test_kube_client.py,
 * not by ctest: it needs the server. */
#include "kube.h"
#include "testing.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define APM_GROUP "/apis/crd.varmor.org/v1beta1"

static char ns[64];
static char ns_path[128], cm_coll[160], apm_coll[200], tmpdir[64];
static char err[1024];

static void check_rc_at(int got, int want, const char *what, int line)
{
	if (got == want) {
		t_passed++;
		return;
	}
	t_failed++;
	fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n  err: %s\n", __FILE__, line,
		what, got, strerror(-got), want, strerror(-want), err);
}
#define CHECK_RC(expr, want) check_rc_at((expr), (want), #expr, __LINE__)

static void check_has_at(const char *s, const char *needle, const char *what, int line)
{
	if (s && strstr(s, needle)) {
		t_passed++;
		return;
	}
	t_failed++;
	fprintf(stderr, "%s:%d: %s does not contain '%s': %s\n", __FILE__, line, what, needle,
		s ? s : "(null)");
}
#define CHECK_HAS(s, needle) check_has_at((s), (needle), #s, __LINE__)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long rv_num(const char *rv)
{
	return rv ? strtoull(rv, NULL, 10) : 0;
}

static const char *meta_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static struct kube_client *client(void)
{
	struct kube_client *c = NULL;
	int rc = kube_client_new(&c, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "kube_client_new: %s\n", err);
		return NULL;
	}
	return c;
}

/* A client from a kubeconfig written for the occasion (bad or weak credentials). */
static struct kube_client *client_with(const char *user_yaml)
{
	const char *old = getenv("KUBECONFIG");
	char *saved = old ? strdup(old) : NULL;
	struct kube_client *c;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kubeconfig", tmpdir);
	f = fopen(path, "w");
	if (!f) {
		free(saved);
		return NULL;
	}
	fprintf(f,
		"apiVersion: v1\nkind: Config\n"
		"clusters: [{name: c, cluster: {server: '%s', certificate-authority: '%s'}}]\n"
		"users: [{name: u, user: %s}]\n"
		"contexts: [{name: x, context: {cluster: c, user: u}}]\n"
		"current-context: x\n",
		getenv("ARMORSMITH_KUBE_SERVER"), getenv("ARMORSMITH_KUBE_CA"), user_yaml);
	fclose(f);
	setenv("KUBECONFIG", path, 1);
	c = client();
	if (saved)
		setenv("KUBECONFIG", saved, 1);
	free(saved);
	return c;
}

static json_t *configmap(const char *name, const char *label, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
			 "ConfigMap", "metadata", "name", name, "labels", "kct", label, "data", "v",
			 value);
}

static json_t *apm(const char *name, const char *content)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:s, s:{s:{s:s, s:s, s:s, s:s}}}", "apiVersion",
			 "crd.varmor.org/v1beta1", "kind", "ArmorProfileModel", "metadata", "name",
			 name, "storageType", "CRDInternal", "data", "profile", "name", name,
			 "enforcer", "AppArmor", "mode", "BehaviorModeling", "content", content);
}

static int post(struct kube_client *c, const char *coll, json_t *obj, long *status, json_t **out)
{
	char *body = json_dumps(obj, JSON_COMPACT);
	json_t *res = NULL;
	long st = 0;
	int rc = kube_request(c, "POST", coll, body, &st, &res, err, sizeof(err));

	free(body);
	if (status)
		*status = st;
	if (out)
		*out = res;
	else
		json_decref(res);
	return rc;
}

static int get(struct kube_client *c, const char *path, json_t **out)
{
	long st;

	return kube_request(c, "GET", path, NULL, &st, out, err, sizeof(err));
}

static char *big_string(size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memset(s, 'x', n);
		s[n] = '\0';
	}
	return s;
}

/* ------------------------------------------------------------------ basics */

static void test_create_and_errors(struct kube_client *c)
{
	json_t *obj = configmap("basic", "basic", "1"), *res = NULL;
	char path[256];
	long st = 0;

	CHECK_RC(post(c, cm_coll, obj, &st, &res), 0);
	CHECK(st == 201);
	CHECK_STR(meta_str(res, "name"), "basic");
	json_decref(res);

	CHECK_RC(post(c, cm_coll, obj, &st, &res), -EEXIST);
	CHECK(st == 409);
	CHECK_STR(json_string_value(json_object_get(res, "reason")), "AlreadyExists");
	CHECK_HAS(err, "POST");
	CHECK_HAS(err, cm_coll);
	CHECK_HAS(err, "HTTP 409");
	CHECK_HAS(err, "already exists");
	json_decref(res);
	json_decref(obj);

	snprintf(path, sizeof(path), "%s/no-such-map", cm_coll);
	res = NULL;
	CHECK_RC(get(c, path, &res), -ENOENT);
	CHECK_HAS(err, "GET ");
	CHECK_HAS(err, path);
	CHECK_HAS(err, "HTTP 404");
	CHECK_HAS(err, "not found");
	json_decref(res);
}

static void test_create_or_replace(struct kube_client *c)
{
	char strict[256], path[256];
	json_t *obj = apm("cor", "profile one"), *res = NULL, *cur = NULL;
	const char *rv1;
	char rv1c[32] = "";

	snprintf(strict, sizeof(strict), "%s?fieldValidation=Strict", apm_coll);
	snprintf(path, sizeof(path), "%s/cor", apm_coll);
	CHECK_RC(kube_create_or_replace(c, strict, obj, &res, err, sizeof(err)), 0);
	rv1 = meta_str(res, "resourceVersion");
	CHECK(rv1 != NULL);
	snprintf(rv1c, sizeof(rv1c), "%s", rv1 ? rv1 : "");
	json_decref(res);
	res = NULL;

	/* again, on the existing object, with a different content */
	json_object_set_new(json_object_get(json_object_get(obj, "data"), "profile"), "content",
			    json_string("profile two"));
	CHECK_RC(kube_create_or_replace(c, strict, obj, &res, err, sizeof(err)), 0);
	CHECK(rv_num(meta_str(res, "resourceVersion")) > rv_num(rv1c));
	CHECK(meta_str(obj, "resourceVersion") == NULL); /* the caller's object is untouched */
	json_decref(res);
	CHECK_RC(get(c, path, &cur), 0);
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_object_get(cur, "data"), "profile"), "content")),
		  "profile two");
	json_decref(cur);

	/* a caller's stale resourceVersion does not matter either */
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv1c));
	CHECK_RC(kube_create_or_replace(c, apm_coll, obj, NULL, err, sizeof(err)), 0);
	json_decref(obj);

	obj = json_pack("{s:s, s:s, s:{}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata");
	CHECK_RC(kube_create_or_replace(c, cm_coll, obj, NULL, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "metadata.name");
	json_decref(obj);
}

/* ------------------------------------------------------------------ update */

struct race {
	struct kube_client *c;
	const char *path;
	int calls;
	int conflicts_to_make; /* how many calls make a concurrent write first */
	int writes;	       /* a new value each time: an unchanged PUT keeps the rv */
};

/* Writes the object behind kube_update's back (a second writer), so the
 * update's PUT, carrying the older resourceVersion, gets a 409. */
static int race_mutate(json_t *obj, void *ctx)
{
	struct race *r = ctx;
	json_t *other = NULL, *res = NULL;
	char *body, e[512];
	long st;
	int rc = 0;

	r->calls++;
	if (r->calls <= r->conflicts_to_make) {
		other = json_deep_copy(obj);
		json_object_set_new(json_object_get(other, "data"), "other",
				    json_sprintf("%d", ++r->writes));
		body = json_dumps(other, JSON_COMPACT);
		rc = kube_request(r->c, "PUT", r->path, body, &st, &res, e, sizeof(e));
		free(body);
		json_decref(other);
		json_decref(res);
		if (rc < 0) {
			fprintf(stderr, "second writer: %s\n", e);
			return rc;
		}
	}
	json_object_set_new(json_object_get(obj, "data"), "mine", json_string("set"));
	/* a careless mutate must not turn the write unconditional */
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string("1"));
	return 0;
}

static int leave_alone(json_t *obj, void *ctx)
{
	(void)obj;
	++*(int *)ctx;
	return 1;
}

static int refuse(json_t *obj, void *ctx)
{
	(void)obj;
	(void)ctx;
	return -ECANCELED;
}

static void test_update(struct kube_client *c)
{
	json_t *obj = configmap("upd", "upd", "1"), *res = NULL, *cur = NULL;
	char path[256], rv[32];
	struct race r = {.c = c, .path = path, .conflicts_to_make = 1};
	int calls = 0;

	snprintf(path, sizeof(path), "%s/upd", cm_coll);
	CHECK_RC(post(c, cm_coll, obj, NULL, NULL), 0);
	json_decref(obj);

	CHECK_RC(kube_update(c, path, race_mutate, &r, &res, err, sizeof(err)), 0);
	CHECK(r.calls == 2); /* first PUT conflicted, the second went through */
	CHECK_STR(json_string_value(json_object_get(json_object_get(res, "data"), "other")), "1");
	CHECK_STR(json_string_value(json_object_get(json_object_get(res, "data"), "mine")), "set");
	snprintf(rv, sizeof(rv), "%s", meta_str(res, "resourceVersion"));
	json_decref(res);

	CHECK_RC(kube_update(c, path, leave_alone, &calls, &res, err, sizeof(err)), 0);
	CHECK(calls == 1);
	CHECK_STR(meta_str(res, "resourceVersion"), rv); /* nothing was written */
	json_decref(res);

	CHECK_RC(kube_update(c, path, refuse, NULL, &res, err, sizeof(err)), -ECANCELED);
	CHECK(res == NULL);

	/* a writer that always wins: 1 + 8 attempts, then -EEXIST */
	r.calls = 0;
	r.conflicts_to_make = 100;
	CHECK_RC(kube_update(c, path, race_mutate, &r, NULL, err, sizeof(err)), -EEXIST);
	CHECK(r.calls == 9);
	CHECK_HAS(err, "HTTP 409");
	CHECK_HAS(err, "8 retries");

	snprintf(path, sizeof(path), "%s/absent", cm_coll);
	CHECK_RC(kube_update(c, path, leave_alone, &calls, NULL, err, sizeof(err)), -ENOENT);
	CHECK_HAS(err, path);
	json_decref(cur);
}

static int set_status(json_t *obj, void *ctx)
{
	json_t *st = json_pack("{s:b, s:i, s:i}", "ready", *(int *)ctx, "desiredNumber", 2,
			       "completedNumber", 1);

	return json_object_set_new(obj, "status", st) < 0 ? -ENOMEM : 0;
}

static void test_status_subresource(struct kube_client *c)
{
	json_t *obj = apm("st", "p"), *res = NULL, *cur = NULL;
	char path[256], spath[256];
	int ready = 1;

	snprintf(path, sizeof(path), "%s/st", apm_coll);
	snprintf(spath, sizeof(spath), "%s/st/status", apm_coll);
	CHECK_RC(kube_create_or_replace(c, apm_coll, obj, NULL, err, sizeof(err)), 0);
	CHECK_RC(kube_update(c, spath, set_status, &ready, &res, err, sizeof(err)), 0);
	CHECK(json_is_true(json_object_get(json_object_get(res, "status"), "ready")));
	json_decref(res);
	CHECK_RC(get(c, path, &cur), 0);
	CHECK(json_integer_value(
		  json_object_get(json_object_get(cur, "status"), "desiredNumber")) == 2);
	json_decref(cur);

	/* the main resource ignores status: it is the subresource's alone */
	ready = 0;
	CHECK_RC(kube_update(c, path, set_status, &ready, NULL, err, sizeof(err)), 0);
	json_object_set_new(obj, "status", json_pack("{s:b}", "ready", 0));
	CHECK_RC(kube_create_or_replace(c, apm_coll, obj, NULL, err, sizeof(err)), 0);
	CHECK_RC(get(c, path, &cur), 0);
	CHECK(json_is_true(json_object_get(json_object_get(cur, "status"), "ready")));
	json_decref(cur);
	json_decref(obj);
}

struct seen {
	int n, stop_after;
	char types[64][12];
	char names[64][64];
	char rvs[64][32];
	size_t content_len[64];
	char stop_type[12], stop_name[64];
	bool stop_on_bookmark;
};

static int record(const char *type, json_t *object, void *ctx)
{
	struct seen *s = ctx;
	const char *name = meta_str(object, "name");
	const char *content = json_string_value(json_object_get(
	    json_object_get(json_object_get(object, "data"), "profile"), "content"));

	if (s->n < 64) {
		snprintf(s->types[s->n], sizeof(s->types[0]), "%s", type);
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name ? name : "");
		snprintf(s->rvs[s->n], sizeof(s->rvs[0]), "%s",
			 meta_str(object, "resourceVersion") ? meta_str(object, "resourceVersion")
							     : "");
		s->content_len[s->n] = content ? strlen(content) : 0;
	}
	s->n++;
	if (s->stop_after && s->n >= s->stop_after)
		return 1;
	if (s->stop_on_bookmark && strcmp(type, "BOOKMARK") == 0)
		return 1;
	return s->stop_type[0] && strcmp(type, s->stop_type) == 0 && name &&
	       strcmp(name, s->stop_name) == 0;
}

/* ------------------------------------------------------------------ auth, size */

static void test_auth(struct kube_client *admin)
{
	char user[512], path[256];
	struct kube_client *c;
	json_t *res = NULL;
	long st = 0;

	snprintf(path, sizeof(path), "%s/basic", cm_coll);
	c = client_with("{token: not-a-valid-token}");
	CHECK(c != NULL);
	if (c) {
		CHECK_RC(kube_request(c, "GET", path, NULL, &st, &res, err, sizeof(err)), -EACCES);
		CHECK(st == 401);
		CHECK_HAS(err, "HTTP 401");
		CHECK_HAS(err, path);
		json_decref(res);
		kube_client_free(c);
	}

	snprintf(user, sizeof(user), "{token: '%s'}", getenv("ARMORSMITH_KUBE_NOBODY_TOKEN"));
	c = client_with(user);
	CHECK(c != NULL);
	if (c) {
		char rv[32] = "";
		struct seen s = {0};

		res = NULL;
		CHECK_RC(kube_request(c, "GET", path, NULL, &st, &res, err, sizeof(err)), -EACCES);
		CHECK(st == 403);
		CHECK_HAS(err, "HTTP 403");
		CHECK_HAS(err, "forbidden");
		json_decref(res);
		/* a watch refused before it streams */
		CHECK_RC(
		    kube_watch(c, cm_coll, NULL, rv, sizeof(rv), 5, record, &s, err, sizeof(err)),
		    -EACCES);
		CHECK(s.n == 0);
		CHECK_HAS(err, "HTTP 403");
		kube_client_free(c);
	}

	snprintf(user, sizeof(user), "{client-certificate: '%s', client-key: '%s'}",
		 getenv("ARMORSMITH_KUBE_CLIENT_CERT"), getenv("ARMORSMITH_KUBE_CLIENT_KEY"));
	c = client_with(user);
	CHECK(c != NULL);
	if (c) {
		res = NULL;
		CHECK_RC(kube_request(c, "GET", path, NULL, &st, &res, err, sizeof(err)), 0);
		CHECK_STR(meta_str(res, "name"), "basic");
		json_decref(res);
		kube_client_free(c);
	}
	(void)admin;
}

static void test_too_large(struct kube_client *c)
{
	/* etcd's own limit (1.5 MiB), the API server's gRPC client limit
	 * (2 MiB), and the API server's request body limit (3 MiB) */
	static const struct {
		size_t size;
		long status;
		const char *msg;
	} cases[] = {
	    {1600 * 1000, 500, "request is too large"},
	    {2100 * 1000, 500, "larger than max"},
	    {3300 * 1000, 413, "Request entity too large"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *content = big_string(cases[i].size), name[32];
		json_t *obj, *res = NULL;
		long st = 0;

		snprintf(name, sizeof(name), "big-%zu", i);
		obj = apm(name, content);
		CHECK_RC(post(c, apm_coll, obj, &st, &res), -E2BIG);
		CHECK(st == cases[i].status);
		CHECK_HAS(err, cases[i].msg);
		CHECK_HAS(err, "POST");
		json_decref(res);
		CHECK_RC(kube_create_or_replace(c, apm_coll, obj, NULL, err, sizeof(err)), -E2BIG);
		json_decref(obj);
		free(content);
	}
}

/* ------------------------------------------------------------------ list */

static void test_list(struct kube_client *c)
{
	char coll[300], rv[32] = "", rv2[32] = "";
	struct seen s = {0};
	int distinct = 1;

	for (int i = 0; i < 7; i++) {
		char name[32];
		json_t *o;

		snprintf(name, sizeof(name), "list-%d", i);
		o = configmap(name, "list", "1");
		CHECK_RC(post(c, cm_coll, o, NULL, NULL), 0);
		json_decref(o);
	}
	snprintf(coll, sizeof(coll), "%s?labelSelector=kct%%3Dlist&limit=3", cm_coll);
	CHECK_RC(kube_list(c, coll, record, &s, rv, sizeof(rv), err, sizeof(err)), 0);
	CHECK(s.n == 7); /* three pages of 3, 3, 1 */
	for (int i = 0; i < s.n && i < 64; i++) {
		CHECK_STR(s.types[i], "ADDED");
		for (int j = 0; j < i; j++)
			if (strcmp(s.names[i], s.names[j]) == 0)
				distinct = 0;
	}
	CHECK(distinct);
	CHECK(rv_num(rv) > 0);

	memset(&s, 0, sizeof(s));
	snprintf(coll, sizeof(coll), "%s?labelSelector=kct%%3Dlist", cm_coll);
	CHECK_RC(kube_list(c, coll, record, &s, rv2, sizeof(rv2), err, sizeof(err)), 0);
	CHECK(s.n == 7);
	CHECK(rv_num(rv2) >= rv_num(rv));

	memset(&s, 0, sizeof(s));
	s.stop_after = 4; /* stops inside the second page */
	snprintf(coll, sizeof(coll), "%s?labelSelector=kct%%3Dlist&limit=3", cm_coll);
	CHECK_RC(kube_list(c, coll, record, &s, rv, sizeof(rv), err, sizeof(err)), 0);
	CHECK(s.n == 4);

	/* a resourceVersion that does not fit the caller's buffer */
	memset(&s, 0, sizeof(s));
	CHECK_RC(kube_list(c, coll, record, &s, rv, 2, err, sizeof(err)), -ERANGE);

	snprintf(coll, sizeof(coll), "%s/nope", ns_path);
	CHECK_RC(kube_list(c, coll, record, &s, rv, sizeof(rv), err, sizeof(err)), -ENOENT);
}

/* ------------------------------------------------------------------ watch */

struct writer {
	struct kube_client *c;
	int rc;
	char created_rv[32];
};

/* The second writer: create, change and delete one object while the main
 * thread watches. */
static void *write_changes(void *arg)
{
	struct writer *w = arg;
	json_t *o = configmap("w1", "watch", "1"), *res = NULL;
	char path[256], *body;
	char e[512];
	long st;

	usleep(300 * 1000);
	snprintf(path, sizeof(path), "%s/w1", cm_coll);
	body = json_dumps(o, JSON_COMPACT);
	w->rc = kube_request(w->c, "POST", cm_coll, body, &st, &res, e, sizeof(e));
	free(body);
	json_decref(o);
	o = res;
	res = NULL;
	if (w->rc == 0)
		snprintf(w->created_rv, sizeof(w->created_rv), "%s",
			 meta_str(o, "resourceVersion"));
	if (w->rc == 0) {
		json_object_set_new(json_object_get(o, "data"), "v", json_string("2"));
		body = json_dumps(o, JSON_COMPACT);
		w->rc = kube_request(w->c, "PUT", path, body, &st, &res, e, sizeof(e));
		free(body);
		json_decref(res);
		res = NULL;
	}
	if (w->rc == 0)
		w->rc = kube_request(w->c, "DELETE", path, NULL, &st, &res, e, sizeof(e));
	if (w->rc)
		fprintf(stderr, "writer: %s\n", e);
	json_decref(res);
	json_decref(o);
	return NULL;
}

struct big_writer {
	struct kube_client *c;
	int rc;
	size_t size;
};

static void *write_big(void *arg)
{
	struct big_writer *w = arg;
	char *content = big_string(w->size), e[512];
	json_t *o = apm("bigwatch", content);

	usleep(300 * 1000);
	w->rc = kube_create_or_replace(w->c, apm_coll, o, NULL, e, sizeof(e));
	if (w->rc)
		fprintf(stderr, "big writer: %s\n", e);
	json_decref(o);
	free(content);
	return NULL;
}

static void test_watch(struct kube_client *c)
{
	char coll[300], rv[32] = "", list_rv[32];
	struct seen s = {0};
	struct writer w = {.c = c};
	pthread_t t;
	double t0;

	snprintf(coll, sizeof(coll), "%s?labelSelector=kct%%3Dwatch", cm_coll);
	CHECK_RC(kube_list(c, coll, record, &s, rv, sizeof(rv), err, sizeof(err)), 0);
	CHECK(s.n == 0);
	snprintf(list_rv, sizeof(list_rv), "%s", rv);

	memset(&s, 0, sizeof(s));
	snprintf(s.stop_type, sizeof(s.stop_type), "DELETED");
	snprintf(s.stop_name, sizeof(s.stop_name), "w1");
	if (pthread_create(&t, NULL, write_changes, &w) != 0) {
		CHECK(!"pthread_create");
		return;
	}
	t0 = now_s();
	CHECK_RC(kube_watch(c, cm_coll, "labelSelector=kct%3Dwatch", rv, sizeof(rv), 30, record, &s,
			    err, sizeof(err)),
		 0);
	pthread_join(t, NULL);
	CHECK(w.rc == 0);
	CHECK(now_s() - t0 < 10); /* ended by the callback, not by the 30 s timeout */
	CHECK(s.n == 3);
	CHECK_STR(s.types[0], "ADDED");
	CHECK_STR(s.types[1], "MODIFIED");
	CHECK_STR(s.types[2], "DELETED");
	CHECK_STR(s.names[0], "w1");
	CHECK_STR(s.rvs[0], w.created_rv);
	CHECK(rv_num(s.rvs[1]) > rv_num(s.rvs[0]));
	CHECK(rv_num(s.rvs[2]) > rv_num(s.rvs[1]));
	CHECK_STR(rv, s.rvs[2]); /* the rv of the last event delivered */
	CHECK(rv_num(rv) > rv_num(list_rv));

	/* resume: only what happened since, not w1 again */
	{
		json_t *o = configmap("w2", "watch", "1");
		CHECK_RC(post(c, cm_coll, o, NULL, NULL), 0);
		json_decref(o);
	}
	memset(&s, 0, sizeof(s));
	snprintf(s.stop_type, sizeof(s.stop_type), "ADDED");
	snprintf(s.stop_name, sizeof(s.stop_name), "w2");
	CHECK_RC(kube_watch(c, cm_coll, "labelSelector=kct%3Dwatch", rv, sizeof(rv), 10, record, &s,
			    err, sizeof(err)),
		 0);
	CHECK(s.n == 1);
	CHECK_STR(s.names[0], "w2");

	/* resume again: w2's ADDED is behind rv now, so nothing until the timeout */
	memset(&s, 0, sizeof(s));
	t0 = now_s();
	CHECK_RC(kube_watch(c, cm_coll, "labelSelector=kct%3Dwatch", rv, sizeof(rv), 2, record, &s,
			    err, sizeof(err)),
		 0);
	CHECK(s.n == 0);
	CHECK(now_s() - t0 >= 1.5);
}

/* Many events at once (several per read) and one of 1.4 MB (many reads). */
static void test_watch_burst_and_big(struct kube_client *c)
{
	char coll[300], rv[32] = "", start_rv[32];
	struct seen s = {0};
	struct big_writer bw = {.c = c, .size = 1400 * 1000};
	pthread_t t;
	double t0;
	int in_order = 1;

	snprintf(coll, sizeof(coll), "%s?labelSelector=kct%%3Dburst", cm_coll);
	CHECK_RC(kube_list(c, coll, record, &s, rv, sizeof(rv), err, sizeof(err)), 0);
	snprintf(start_rv, sizeof(start_rv), "%s", rv);
	for (int i = 0; i < 40; i++) {
		char name[32];
		json_t *o;

		snprintf(name, sizeof(name), "burst-%02d", i);
		o = configmap(name, "burst", "1");
		CHECK_RC(post(c, cm_coll, o, NULL, NULL), 0);
		json_decref(o);
	}
	memset(&s, 0, sizeof(s));
	s.stop_after = 40;
	CHECK_RC(kube_watch(c, cm_coll, "labelSelector=kct%3Dburst", rv, sizeof(rv), 10, record, &s,
			    err, sizeof(err)),
		 0);
	CHECK(s.n == 40);
	for (int i = 0; i < s.n && i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "burst-%02d", i);
		if (strcmp(s.names[i], name) != 0 || strcmp(s.types[i], "ADDED") != 0)
			in_order = 0;
	}
	CHECK(in_order);

	memset(&s, 0, sizeof(s));
	rv[0] = '\0';
	CHECK_RC(kube_list(c, apm_coll, record, &s, rv, sizeof(rv), err, sizeof(err)), 0);
	memset(&s, 0, sizeof(s));
	snprintf(s.stop_type, sizeof(s.stop_type), "ADDED");
	snprintf(s.stop_name, sizeof(s.stop_name), "bigwatch");
	if (pthread_create(&t, NULL, write_big, &bw) != 0) {
		CHECK(!"pthread_create");
		return;
	}
	t0 = now_s();
	CHECK_RC(kube_watch(c, apm_coll, NULL, rv, sizeof(rv), 30, record, &s, err, sizeof(err)),
		 0);
	pthread_join(t, NULL);
	CHECK(bw.rc == 0);
	CHECK(s.n == 1);
	CHECK(s.content_len[0] == bw.size);
	printf("figure: watch delivered a %zu-byte object %.0f ms after the watch started "
	       "(writer waits 300 ms)\n",
	       bw.size, (now_s() - t0) * 1000);
}

struct hidden_change {
	struct kube_client *c;
	int rc;
	unsigned long long rv;
};

static void *make_hidden_change(void *arg)
{
	struct hidden_change *h = arg;
	json_t *o = configmap("bm", "bm", "1"), *res = NULL;
	char *body = json_dumps(o, JSON_COMPACT), e[512];
	long st;

	usleep(500 * 1000);
	h->rc = kube_request(h->c, "POST", cm_coll, body, &st, &res, e, sizeof(e));
	if (h->rc)
		fprintf(stderr, "hidden change: %s\n", e);
	h->rv = rv_num(meta_str(res, "resourceVersion"));
	json_decref(res);
	json_decref(o);
	free(body);
	return NULL;
}

static void test_bookmark(struct kube_client *c)
{
	char rv[32] = "", coll[300];
	struct seen s = {0};
	struct hidden_change h = {.c = c};
	pthread_t t;
	double t0, took;

	snprintf(coll, sizeof(coll), "%s?limit=1", cm_coll);
	CHECK_RC(kube_list(c, coll, record, &s, rv, sizeof(rv), err, sizeof(err)), 0);
	/* The selector hides the change; the bookmark still moves rv past it.
	 * This server sends bookmarks about 2 s before the watch times out (and
	 * once a minute on longer watches), to a watcher that was open when the
	 * change happened, so a 5 s watch is enough. */
	memset(&s, 0, sizeof(s));
	s.stop_on_bookmark = true;
	if (pthread_create(&t, NULL, make_hidden_change, &h) != 0) {
		CHECK(!"pthread_create");
		return;
	}
	t0 = now_s();
	CHECK_RC(kube_watch(c, cm_coll, "fieldSelector=metadata.name%3Dnothing-here", rv,
			    sizeof(rv), 5, record, &s, err, sizeof(err)),
		 0);
	took = now_s() - t0;
	pthread_join(t, NULL);
	CHECK(h.rc == 0);
	CHECK(s.n == 1);
	CHECK_STR(s.types[0], "BOOKMARK");
	CHECK(h.rv > 0 && rv_num(rv) >= h.rv);
	CHECK(took < 4.9); /* it came before the end of the stream */
	printf("figure: bookmark after %.2f s of a 5 s watch\n", took);
}

static void test_stale(struct kube_client *c)
{
	char rv[32] = "2", coll[300], pt_coll[200];
	struct seen s = {0};

	/* PodTemplates bypass the watch cache on our server (kube-apiserver.sh)
	 * and the test compacted etcd before it ran: rv 2 is gone, 410 as an
	 * ERROR event in a 200 stream, as a long-running cluster answers. */
	snprintf(pt_coll, sizeof(pt_coll), "%s/podtemplates", ns_path);
	CHECK_RC(kube_watch(c, pt_coll, NULL, rv, sizeof(rv), 10, record, &s, err, sizeof(err)),
		 -ESTALE);
	CHECK(s.n == 0);
	CHECK_HAS(err, "410");
	CHECK_HAS(err, "too old");
	CHECK_STR(rv, "2");

	/* and as an HTTP 410 */
	snprintf(coll, sizeof(coll), "%s?resourceVersion=2&resourceVersionMatch=Exact", pt_coll);
	CHECK_RC(kube_list(c, coll, record, &s, rv, sizeof(rv), err, sizeof(err)), -ESTALE);
	CHECK_HAS(err, "HTTP 410");
}

static void *interrupt_later(void *arg)
{
	usleep(1000 * 1000);
	kube_client_interrupt(arg);
	return NULL;
}

static void test_interrupt(void)
{
	struct kube_client *c = client();
	char rv[32] = "";
	struct seen s = {0};
	json_t *res = NULL;
	pthread_t t;
	double t0, took;

	if (!c) {
		CHECK(c != NULL);
		return;
	}
	if (pthread_create(&t, NULL, interrupt_later, c) != 0) {
		CHECK(!"pthread_create");
		kube_client_free(c);
		return;
	}
	t0 = now_s();
	CHECK_RC(kube_watch(c, cm_coll, "fieldSelector=metadata.name%3Dnothing-here", rv,
			    sizeof(rv), 60, record, &s, err, sizeof(err)),
		 -EINTR);
	took = now_s() - t0;
	pthread_join(t, NULL);
	CHECK(took >= 0.9 && took < 4);
	printf("figure: an interrupted watch returned %.2f s after it started (interrupt at "
	       "1 s)\n",
	       took);
	CHECK_RC(get(c, cm_coll, &res), -EINTR);
	json_decref(res);
	kube_client_free(c);
}

/* ------------------------------------------------------------------ in-cluster */

static int mint_token(struct kube_client *c, char *tok, size_t toklen)
{
	char path[300];
	json_t *req = json_pack("{s:s, s:s, s:{s:i}}", "apiVersion", "authentication.k8s.io/v1",
				"kind", "TokenRequest", "spec", "expirationSeconds", 600),
	       *res = NULL;
	const char *t;
	long st;
	int rc;

	snprintf(path, sizeof(path), "%s/serviceaccounts/kct-sa/token", ns_path);
	rc = post(c, path, req, &st, &res);
	t = json_string_value(json_object_get(json_object_get(res, "status"), "token"));
	if (rc == 0 && (!t || strlen(t) >= toklen))
		rc = -EIO;
	if (rc == 0)
		snprintf(tok, toklen, "%s", t);
	json_decref(req);
	json_decref(res);
	return rc;
}

/* As the kubelet does: a new file renamed over the old one. */
static int write_token(const char *dir, const char *tok)
{
	char path[128], tmp[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", dir);
	snprintf(tmp, sizeof(tmp), "%s/token.tmp", dir);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(tok, f);
	if (fclose(f) != 0)
		return -EIO;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	int ch, rc = in && out ? 0 : -EIO;

	while (!rc && (ch = fgetc(in)) != EOF)
		fputc(ch, out);
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -EIO;
	return rc;
}

static char *whoami(struct kube_client *c)
{
	json_t *req = json_pack("{s:s, s:s}", "apiVersion", "authentication.k8s.io/v1", "kind",
				"SelfSubjectReview"),
	       *res = NULL;
	const char *u;
	char *out = NULL;

	if (post(c, "/apis/authentication.k8s.io/v1/selfsubjectreviews", req, NULL, &res) == 0 &&
	    (u = json_string_value(json_object_get(
		 json_object_get(json_object_get(res, "status"), "userInfo"), "username"))))
		out = strdup(u);
	json_decref(req);
	json_decref(res);
	return out;
}

static void test_in_cluster(struct kube_client *admin)
{
	char role_coll[300], bind_coll[300], sa_coll[300], sa_dir[128], ca[160], tok1[4096],
	    tok2[4096], expect[200], host[64] = "", port[16] = "", rv[32];
	const char *server = getenv("ARMORSMITH_KUBE_SERVER");
	struct kube_client *c = NULL;
	struct seen s = {0};
	json_t *o, *res = NULL;
	char *me = NULL;

	snprintf(sa_coll, sizeof(sa_coll), "%s/serviceaccounts", ns_path);
	snprintf(role_coll, sizeof(role_coll),
		 "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles", ns);
	snprintf(bind_coll, sizeof(bind_coll),
		 "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings", ns);
	o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
		      "metadata", "name", "kct-sa");
	CHECK_RC(post(admin, sa_coll, o, NULL, NULL), 0);
	json_decref(o);
	o = json_pack("{s:s, s:s, s:{s:s}, s:[{s:[s], s:[s], s:[s,s,s,s]}]}", "apiVersion",
		      "rbac.authorization.k8s.io/v1", "kind", "Role", "metadata", "name",
		      "kct-role", "rules", "apiGroups", "", "resources", "configmaps", "verbs",
		      "get", "list", "watch", "update");
	CHECK_RC(post(admin, role_coll, o, NULL, NULL), 0);
	json_decref(o);
	o = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}", "apiVersion",
		      "rbac.authorization.k8s.io/v1", "kind", "RoleBinding", "metadata", "name",
		      "kct-bind", "roleRef", "apiGroup", "rbac.authorization.k8s.io", "kind",
		      "Role", "name", "kct-role", "subjects", "kind", "ServiceAccount", "name",
		      "kct-sa", "namespace", ns);
	CHECK_RC(post(admin, bind_coll, o, NULL, NULL), 0);
	json_decref(o);

	CHECK_RC(mint_token(admin, tok1, sizeof(tok1)), 0);
	CHECK_RC(mint_token(admin, tok2, sizeof(tok2)), 0);
	CHECK(strcmp(tok1, tok2) != 0);

	snprintf(sa_dir, sizeof(sa_dir), "%s/sa", tmpdir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", sa_dir);
	mkdir(sa_dir, 0700);
	CHECK_RC(copy_file(getenv("ARMORSMITH_KUBE_CA"), ca), 0);
	CHECK_RC(write_token(sa_dir, tok1), 0);
	if (!server || sscanf(server, "https://%63[^:]:%15[0-9]", host, port) != 2) {
		CHECK(!"ARMORSMITH_KUBE_SERVER is https://HOST:PORT");
		return;
	}
	setenv("KUBERNETES_SERVICE_HOST", host, 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	setenv("ARMORSMITH_KUBE_SA_DIR", sa_dir, 1);
	c = client();
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("ARMORSMITH_KUBE_SA_DIR");
	CHECK(c != NULL);
	if (!c)
		return;

	snprintf(expect, sizeof(expect), "system:serviceaccount:%s:kct-sa", ns);
	me = whoami(c);
	CHECK_STR(me, expect);
	free(me);
	CHECK_RC(kube_list(c, cm_coll, record, &s, rv, sizeof(rv), err, sizeof(err)), 0);
	CHECK(s.n > 0);
	/* the Role allows configmaps only */
	CHECK_RC(get(c, apm_coll, &res), -EACCES);
	CHECK_HAS(err, "HTTP 403");
	CHECK_HAS(err, "kct-sa");
	json_decref(res);

	/* rotation: each request reads the file again */
	CHECK_RC(write_token(sa_dir, "expired-or-garbage"), 0);
	res = NULL;
	CHECK_RC(get(c, cm_coll, &res), -EACCES);
	CHECK_HAS(err, "HTTP 401");
	json_decref(res);
	CHECK_RC(write_token(sa_dir, tok2), 0);
	res = NULL;
	CHECK_RC(get(c, cm_coll, &res), 0);
	json_decref(res);
	me = whoami(c);
	CHECK_STR(me, expect);
	free(me);
	{
		char path[300];
		int calls = 0;

		snprintf(path, sizeof(path), "%s/basic", cm_coll);
		CHECK_RC(kube_update(c, path, leave_alone, &calls, NULL, err, sizeof(err)), 0);
		CHECK(calls == 1);
	}
	kube_client_free(c);
}

/* ------------------------------------------------------------------ timing */

static void measure(struct kube_client *c)
{
	char path[300];
	double t0 = now_s();
	int n = 30, ok = 0;

	snprintf(path, sizeof(path), "%s/basic", cm_coll);
	for (int i = 0; i < n; i++) {
		json_t *res = NULL;

		ok += get(c, path, &res) == 0;
		json_decref(res);
	}
	CHECK(ok == n);
	printf("figure: GET of one ConfigMap: %.1f ms each over %d requests (new TLS "
	       "connection per request)\n",
	       (now_s() - t0) * 1000 / n, n);
}

/* ------------------------------------------------------------------ setup */

static int setup_namespace(struct kube_client *c)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			      "metadata", "name", ns);
	int rc = post(c, "/api/v1/namespaces", o, NULL, NULL);

	json_decref(o);
	if (rc < 0)
		fprintf(stderr, "cannot create namespace %s: %s\n", ns, err);
	return rc;
}

/* No controller-manager runs here, so nothing would empty and finalize a
 * deleted namespace: do its job. */
static void remove_namespace(struct kube_client *c)
{
	static const char *const colls[] = {
	    "/api/v1/namespaces/%s/configmaps",
	    "/api/v1/namespaces/%s/serviceaccounts",
	    APM_GROUP "/namespaces/%s/armorprofilemodels",
	    "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles",
	    "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings",
	};
	char path[300];
	json_t *res = NULL, *fin;
	char *body;
	long st;

	for (size_t i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
		snprintf(path, sizeof(path), colls[i], ns);
		CHECK_RC(kube_request(c, "DELETE", path, NULL, &st, &res, err, sizeof(err)), 0);
		json_decref(res);
		res = NULL;
	}
	CHECK_RC(kube_request(c, "DELETE", ns_path, NULL, &st, &res, err, sizeof(err)), 0);
	json_decref(res);
	res = NULL;
	fin = json_pack("{s:s, s:s, s:{s:s}, s:{s:[]}}", "apiVersion", "v1", "kind", "Namespace",
			"metadata", "name", ns, "spec", "finalizers");
	body = json_dumps(fin, JSON_COMPACT);
	snprintf(path, sizeof(path), "%s/finalize", ns_path);
	CHECK_RC(kube_request(c, "PUT", path, body, &st, &res, err, sizeof(err)), 0);
	free(body);
	json_decref(fin);
	json_decref(res);
	res = NULL;
	CHECK_RC(get(c, ns_path, &res), -ENOENT);
	json_decref(res);
}

int main(void)
{
	static const char *const need[] = {"KUBECONFIG",
					   "ARMORSMITH_KUBE_SERVER",
					   "ARMORSMITH_KUBE_CA",
					   "ARMORSMITH_KUBE_NOBODY_TOKEN",
					   "ARMORSMITH_KUBE_CLIENT_CERT",
					   "ARMORSMITH_KUBE_CLIENT_KEY"};
	struct kube_client *c;

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!getenv(need[i])) {
			fprintf(stderr,
				"%s is not set (eval \"$(deploy/local/kube-apiserver.sh "
				"env)\")\n",
				need[i]);
			return 1;
		}
	}
	/* before any thread exists */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(ns, sizeof(ns), "kube-client-test-%ld", (long)getpid());
	snprintf(ns_path, sizeof(ns_path), "/api/v1/namespaces/%s", ns);
	snprintf(cm_coll, sizeof(cm_coll), "%s/configmaps", ns_path);
	snprintf(apm_coll, sizeof(apm_coll), APM_GROUP "/namespaces/%s/armorprofilemodels", ns);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kube-client-test-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	c = client();
	CHECK(c != NULL);
	if (c && setup_namespace(c) == 0) {
		test_create_and_errors(c);
		test_create_or_replace(c);
		test_update(c);
		test_status_subresource(c);
		test_auth(c);
		test_too_large(c);
		test_list(c);
		test_watch(c);
		test_watch_burst_and_big(c);
		test_bookmark(c);
		test_stale(c);
		test_interrupt();
		test_in_cluster(c);
		measure(c);
		remove_namespace(c);
	} else {
		CHECK(!"namespace created");
	}
	kube_client_free(c);
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/sa/token", tmpdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/sa/ca.crt", tmpdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/sa", tmpdir);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/kubeconfig", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
	curl_global_cleanup();
	return TEST_SUMMARY();
}
