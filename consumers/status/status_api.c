#include "status_api.h"
#include "apm_merge.h"
#include "apm_model.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define APM_GROUP "crd.varmor.org"
#define APM_VERSION "v1beta1"
#define APM_RESOURCE "armorprofilemodels"
#define APM_PREFIX "/apis/" APM_GROUP "/" APM_VERSION "/namespaces/"
#define REVIEW_SLOTS 256
#define MAX_TOKEN 16384
#define WRITE_ATTEMPTS 8

/* One allowed review: a token's user (authn) or a verb on an object (authz). */
struct review {
	char key[400];
	int64_t expires_ns;
	json_t *user; /* authn entries only */
};

struct status_api {
	struct kube_client *kube;
	char *sink_dir;
	int64_t ttl_ns;
	pthread_mutex_t cache_lock;
	struct review cache[REVIEW_SLOTS];
	/* Imports read, merge and write the local-disk file: one at a time. */
	pthread_mutex_t import_lock;
	struct metric *cache_hits, *exports, *local_disk_writes;
};

/* The caller, once authenticated. */
struct caller {
	char hash[65]; /* SHA-256 of the token, hex */
	json_t *user;  /* TokenReview status.user */
	const char *name;
};

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int status_api_new(const struct status_api_options *opt, struct status_api **out)
{
	struct status_api *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->kube = opt->kube;
	a->sink_dir = strdup(opt->sink_dir);
	if (!a->sink_dir) {
		free(a);
		return -ENOMEM;
	}
	a->ttl_ns = (int64_t)(opt->review_ttl_s ? opt->review_ttl_s : 10) * 1000000000;
	pthread_mutex_init(&a->cache_lock, NULL);
	pthread_mutex_init(&a->import_lock, NULL);
	a->cache_hits = metrics_counter("armorsmith_status_review_cache_hits_total", NULL,
					"Token and access reviews answered from the cache.");
	a->exports = metrics_counter("armorsmith_status_exports_total", NULL,
				     "ArmorProfileModels exported (GET answered 200).");
	a->local_disk_writes =
	    metrics_counter("armorsmith_status_local_disk_writes_total", NULL,
			    "Imports whose data went to the local disk because the API server "
			    "refused the object as too large.");
	*out = a;
	return 0;
}

void status_api_free(struct status_api *a)
{
	if (!a)
		return;
	for (int i = 0; i < REVIEW_SLOTS; i++)
		json_decref(a->cache[i].user);
	pthread_mutex_destroy(&a->cache_lock);
	pthread_mutex_destroy(&a->import_lock);
	free(a->sink_dir);
	free(a);
}

static void count(const char *name, const char *help, const char *k, const char *v)
{
	char labels[128];

	if (metrics_labels(labels, sizeof(labels), k, v, NULL) == 0)
		metric_inc(metrics_counter(name, labels, help));
}

/* A Kubernetes-style Status object as the response. */
static void respond_status(struct httpd_response *resp, int code, const char *reason,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void respond_status(struct httpd_response *resp, int code, const char *reason,
			   const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *st;
	char *text;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
		       "metadata", "status", "Failure", "message", msg, "reason", reason, "code",
		       code);
	text = st ? json_dumps(st, JSON_COMPACT) : NULL;
	json_decref(st);
	if (!text)
		return; /* 500 */
	free(resp->body);
	resp->status = code;
	resp->content_type = "application/json";
	resp->body = text;
	resp->body_len = strlen(text);
}

static void respond_json(struct httpd_response *resp, int code, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);

	if (!text) {
		respond_status(resp, 500, "InternalError", "cannot serialize the response");
		return;
	}
	free(resp->body);
	resp->status = code;
	resp->content_type = "application/json";
	resp->body = text;
	resp->body_len = strlen(text);
}

/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
static bool valid_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* DNS-1123 subdomain: labels joined by dots, at most 253. Never "." or "..",
 * never a slash: safe as a file name. */
static bool valid_subdomain(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0)
			return false;
		for (size_t i = 0; i < len; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
			      p[i] == '-'))
				return false;
		if (p[0] == '-' || p[len - 1] == '-')
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* 0 when path is the model path (names copied out), -ENOENT when it is
 * another path, -EINVAL when it is the model path with invalid names. */
static int parse_path(const char *path, char *ns, size_t nslen, char *name, size_t namelen)
{
	const char *p, *slash;
	static const char mid[] = "/" APM_RESOURCE "/";

	if (strncmp(path, APM_PREFIX, strlen(APM_PREFIX)) != 0)
		return -ENOENT;
	p = path + strlen(APM_PREFIX);
	slash = strchr(p, '/');
	if (!slash || strncmp(slash, mid, strlen(mid)) != 0)
		return -ENOENT;
	if (strchr(slash + strlen(mid), '/') || !slash[strlen(mid)])
		return -ENOENT;
	if ((size_t)(slash - p) >= nslen || strlen(slash + strlen(mid)) >= namelen)
		return -EINVAL;
	snprintf(ns, nslen, "%.*s", (int)(slash - p), p);
	snprintf(name, namelen, "%s", slash + strlen(mid));
	if (!valid_label(ns, strlen(ns)) || !valid_subdomain(name))
		return -EINVAL;
	return 0;
}

static bool cache_get(struct status_api *a, const char *key, json_t **user)
{
	int64_t now = monotonic_ns();
	bool hit = false;

	pthread_mutex_lock(&a->cache_lock);
	for (int i = 0; i < REVIEW_SLOTS; i++) {
		struct review *r = &a->cache[i];
		if (r->expires_ns > now && strcmp(r->key, key) == 0) {
			if (user)
				*user = json_incref(r->user);
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&a->cache_lock);
	if (hit)
		metric_inc(a->cache_hits);
	return hit;
}

static void cache_put(struct status_api *a, const char *key, json_t *user)
{
	int64_t now = monotonic_ns();
	struct review *slot = NULL;

	if (strlen(key) >= sizeof(slot->key))
		return;
	pthread_mutex_lock(&a->cache_lock);
	/* An expired slot, else the one closest to expiring. */
	for (int i = 0; i < REVIEW_SLOTS; i++) {
		struct review *r = &a->cache[i];
		if (r->expires_ns <= now) {
			slot = r;
			break;
		}
		if (!slot || r->expires_ns < slot->expires_ns)
			slot = r;
	}
	json_decref(slot->user);
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->user = json_incref(user);
	slot->expires_ns = now + a->ttl_ns;
	pthread_mutex_unlock(&a->cache_lock);
}

static int token_hash(const char *token, char hex[65])
{
	unsigned char d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), d) < 0)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* The bearer token of the request, or NULL. */
static const char *bearer_token(const struct httpd_request *req)
{
	const char *h = httpd_header(req, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	if (!*h || strlen(h) > MAX_TOKEN || strpbrk(h, " \t\r\n"))
		return NULL;
	return h;
}

/* TokenReview: 0 with c->user set, or a response (401, 500) and -EACCES. */
static int authenticate(struct status_api *a, const char *token, struct caller *c,
			struct httpd_response *resp)
{
	char key[80], err[512] = "", *body;
	json_t *req, *out = NULL, *st;
	long code = 0;
	int rc;

	if (token_hash(token, c->hash) < 0) {
		respond_status(resp, 500, "InternalError", "cannot hash the token");
		return -EIO;
	}
	snprintf(key, sizeof(key), "authn:%s", c->hash);
	if (cache_get(a, key, &c->user))
		goto found;
	req = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind",
			"TokenReview", "spec", "token", token);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		respond_status(resp, 500, "InternalError", "out of memory");
		return -ENOMEM;
	}
	rc = kube_request(a->kube, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body,
			  &code, &out, err, sizeof(err));
	free(body);
	if (rc < 0) {
		count("armorsmith_status_token_reviews_total", "TokenReviews by result.", "result",
		      "error");
		log_error("token review failed: %s", err);
		respond_status(resp, 500, "InternalError", "cannot review the token: %s", err);
		json_decref(out);
		return rc;
	}
	st = json_object_get(out, "status");
	if (!json_is_true(json_object_get(st, "authenticated")) ||
	    !json_is_object(json_object_get(st, "user"))) {
		const char *why = json_string_value(json_object_get(st, "error"));
		count("armorsmith_status_token_reviews_total", "TokenReviews by result.", "result",
		      "rejected");
		respond_status(resp, 401, "Unauthorized",
			       "the bearer token was not authenticated by the API server%s%s",
			       why && *why ? ": " : "", why && *why ? why : "");
		json_decref(out);
		return -EACCES;
	}
	count("armorsmith_status_token_reviews_total", "TokenReviews by result.", "result",
	      "authenticated");
	c->user = json_incref(json_object_get(st, "user"));
	json_decref(out);
	cache_put(a, key, c->user);
found:
	c->name = json_string_value(json_object_get(c->user, "username"));
	if (!c->name)
		c->name = "";
	return 0;
}

/* SubjectAccessReview for one verb on one object: 0, or a response (403,
 * 500) and a negative code. */
static int authorize(struct status_api *a, struct caller *c, const char *verb, const char *ns,
		     const char *name, struct httpd_response *resp)
{
	char key[400], err[512] = "", *body;
	json_t *req, *spec, *out = NULL, *st, *v;
	long code = 0;
	int rc;

	snprintf(key, sizeof(key), "authz:%s:%s:%s:%s", c->hash, verb, ns, name);
	if (cache_get(a, key, NULL))
		return 0;
	spec = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "user", c->name,
			 "resourceAttributes", "namespace", ns, "verb", verb, "group", APM_GROUP,
			 "version", APM_VERSION, "resource", APM_RESOURCE, "name", name);
	if (spec && (v = json_object_get(c->user, "uid")))
		json_object_set(spec, "uid", v);
	if (spec && (v = json_object_get(c->user, "groups")))
		json_object_set(spec, "groups", v);
	if (spec && (v = json_object_get(c->user, "extra")))
		json_object_set(spec, "extra", v);
	req = spec ? json_pack("{s:s, s:s, s:o}", "apiVersion", "authorization.k8s.io/v1", "kind",
			       "SubjectAccessReview", "spec", spec)
		   : NULL;
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		respond_status(resp, 500, "InternalError", "out of memory");
		return -ENOMEM;
	}
	rc = kube_request(a->kube, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
			  body, &code, &out, err, sizeof(err));
	free(body);
	if (rc < 0) {
		count("armorsmith_status_access_reviews_total", "SubjectAccessReviews by result.",
		      "result", "error");
		log_error("access review failed: %s", err);
		respond_status(resp, 500, "InternalError", "cannot review access: %s", err);
		json_decref(out);
		return rc;
	}
	st = json_object_get(out, "status");
	if (!json_is_true(json_object_get(st, "allowed"))) {
		const char *why = json_string_value(json_object_get(st, "reason"));
		char who[300];
		count("armorsmith_status_access_reviews_total", "SubjectAccessReviews by result.",
		      "result", "denied");
		log_info("denied: user %s cannot %s %s/%s",
			 log_printable(c->name, who, sizeof(who)), verb, ns, name);
		respond_status(
		    resp, 403, "Forbidden",
		    APM_RESOURCE "." APM_GROUP " \"%s\" is forbidden: User \"%s\" cannot "
				 "%s resource \"" APM_RESOURCE "\" in API group \"" APM_GROUP
				 "\" in the namespace \"%s\"%s%s",
		    name, c->name, verb, ns, why && *why ? ": " : "", why && *why ? why : "");
		json_decref(out);
		return -EACCES;
	}
	count("armorsmith_status_access_reviews_total", "SubjectAccessReviews by result.", "result",
	      "allowed");
	json_decref(out);
	cache_put(a, key, NULL);
	return 0;
}

static void model_path(char *buf, size_t len, const char *ns, const char *name)
{
	snprintf(buf, len, APM_PREFIX "%s/" APM_RESOURCE "/%s", ns, name);
}

static void local_path(struct status_api *a, char *buf, size_t len, const char *ns,
		       const char *name)
{
	snprintf(buf, len, "%s/%s/%s.json", a->sink_dir, ns, name);
}

static bool is_local_disk(json_t *obj)
{
	const char *st = json_string_value(json_object_get(obj, "storageType"));

	return st && strcmp(st, "LocalDisk") == 0;
}

/* The data of a LocalDisk model from its file: 0, -ENOENT, -EINVAL. */
static int load_local(struct status_api *a, const char *ns, const char *name, json_t **data,
		      char *err, size_t errlen)
{
	char path[4096];
	json_error_t jerr;
	json_t *obj;

	local_path(a, path, sizeof(path), ns, name);
	obj = json_load_file(path, 0, &jerr);
	if (!obj) {
		bool missing = jerr.position == 0 && strstr(jerr.text, "unable to open");
		snprintf(err, errlen, "LocalDisk data of %s/%s in %.400s: %s", ns, name, path,
			 jerr.text);
		return missing ? -ENOENT : -EINVAL;
	}
	*data = json_incref(json_object_get(obj, "data"));
	json_decref(obj);
	if (!json_is_object(*data)) {
		json_decref(*data);
		*data = NULL;
		snprintf(err, errlen, "LocalDisk data of %s/%s in %.400s has no data object", ns,
			 name, path);
		return -EINVAL;
	}
	return 0;
}

static int mkdir_p(const char *dir)
{
	char tmp[4096];
	size_t len = strlen(dir);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Writes the whole object (data included) to SINK_DIR/ns/name.json. */
static int save_local(struct status_api *a, const char *ns, const char *name, json_t *obj,
		      char *err, size_t errlen)
{
	char dir[4096], path[4096];
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", a->sink_dir, ns);
	rc = mkdir_p(dir);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create %.400s: %s", dir, strerror(-rc));
		return rc;
	}
	local_path(a, path, sizeof(path), ns, name);
	rc = apm_model_write_json(obj, path);
	if (rc < 0)
		snprintf(err, errlen, "cannot write %.400s: %s", path, strerror(-rc));
	return rc;
}

static void strip_server_fields(json_t *obj)
{
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
}

static void handle_get(struct status_api *a, const char *ns, const char *name,
		       struct httpd_response *resp)
{
	char path[512], err[1024] = "";
	json_t *obj = NULL, *data = NULL;
	long code = 0;
	int rc;

	model_path(path, sizeof(path), ns, name);
	rc = kube_request(a->kube, "GET", path, NULL, &code, &obj, err, sizeof(err));
	if (rc == -ENOENT) {
		respond_status(resp, 404, "NotFound",
			       APM_RESOURCE "." APM_GROUP " \"%s\" not found", name);
		goto out;
	}
	if (rc < 0) {
		respond_status(resp, 500, "InternalError", "%s", err);
		goto out;
	}
	if (is_local_disk(obj)) {
		rc = load_local(a, ns, name, &data, err, sizeof(err));
		if (rc < 0) {
			log_error("%s", err);
			respond_status(resp, 500, "InternalError", "%s", err);
			goto out;
		}
		json_object_set(obj, "data", data);
	}
	strip_server_fields(obj);
	metric_inc(a->exports);
	respond_json(resp, 200, obj);
out:
	json_decref(data);
	json_decref(obj);
}

/* The object to create from an imported one: its name and namespace from
 * the URL, labels and annotations kept, the other metadata (uid,
 * resourceVersion, owners) belonging to the cluster it came from. */
static json_t *new_object(json_t *posted, const char *ns, const char *name)
{
	json_t *pm = json_object_get(posted, "metadata"), *v;
	json_t *obj =
	    json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:O}", "apiVersion", APM_GROUP "/" APM_VERSION,
		      "kind", "ArmorProfileModel", "metadata", "name", name, "namespace", ns,
		      "storageType", "CRDInternal", "data", json_object_get(posted, "data"));

	if (obj && (v = json_object_get(pm, "labels")) && json_is_object(v))
		json_object_set(json_object_get(obj, "metadata"), "labels", v);
	if (obj && (v = json_object_get(pm, "annotations")) && json_is_object(v))
		json_object_set(json_object_get(obj, "metadata"), "annotations", v);
	return obj;
}

/* Writes obj (CRDInternal, data inside) with method to path; when the API
 * server finds it too large, the data goes to the local disk and the object
 * is written as LocalDisk with empty data. *out gets the server's object
 * with the data put back. */
static int write_model(struct status_api *a, const char *method, const char *path, const char *ns,
		       const char *name, json_t *obj, json_t **out, bool *local_disk, long *code,
		       char *err, size_t errlen)
{
	json_t *data = json_incref(json_object_get(obj, "data"));
	char *body = json_dumps(obj, JSON_COMPACT);
	int rc = -ENOMEM;

	*out = NULL;
	*local_disk = false;
	if (!body)
		goto out;
	rc = kube_request(a->kube, method, path, body, code, out, err, errlen);
	free(body);
	body = NULL;
	if (rc == -E2BIG) {
		json_decref(*out);
		*out = NULL;
		json_object_set_new(obj, "storageType", json_string("LocalDisk"));
		rc = save_local(a, ns, name, obj, err, errlen);
		if (rc < 0)
			goto out;
		json_object_set_new(obj, "data", json_object());
		body = json_dumps(obj, JSON_COMPACT);
		rc = body ? kube_request(a->kube, method, path, body, code, out, err, errlen)
			  : -ENOMEM;
		*local_disk = true;
		if (rc == 0)
			metric_inc(a->local_disk_writes);
	}
	if (rc == 0)
		json_object_set(*out, "data", data);
out:
	free(body);
	json_decref(data);
	return rc;
}

/* Maps a failed write to the response. */
static void respond_write_error(struct httpd_response *resp, int rc, long code, const char *err)
{
	if (rc == -EIO && (code == 400 || code == 422))
		respond_status(resp, (int)code, code == 400 ? "BadRequest" : "Invalid", "%s", err);
	else
		respond_status(resp, 500, "InternalError", "%s", err);
}

static void handle_post(struct status_api *a, const char *ns, const char *name,
			const struct httpd_request *req, struct httpd_response *resp)
{
	char path[512], collection[512], err[1024] = "";
	json_error_t jerr;
	json_t *posted, *pdata;
	const char *kind, *api;
	int rc = 0;

	posted = json_loadb(req->body, req->body_len, 0, &jerr);
	if (!json_is_object(posted)) {
		respond_status(resp, 400, "BadRequest", "request body is not a JSON object%s%s",
			       posted ? "" : ": ", posted ? "" : jerr.text);
		json_decref(posted);
		return;
	}
	kind = json_string_value(json_object_get(posted, "kind"));
	api = json_string_value(json_object_get(posted, "apiVersion"));
	pdata = json_object_get(posted, "data");
	if ((kind && strcmp(kind, "ArmorProfileModel") != 0) ||
	    (api && strcmp(api, APM_GROUP "/" APM_VERSION) != 0) || !json_is_object(pdata)) {
		respond_status(resp, 400, "BadRequest",
			       "request body is not an ArmorProfileModel (" APM_GROUP
			       "/" APM_VERSION ") with a data object");
		json_decref(posted);
		return;
	}
	model_path(path, sizeof(path), ns, name);
	snprintf(collection, sizeof(collection), APM_PREFIX "%s/" APM_RESOURCE, ns);

	pthread_mutex_lock(&a->import_lock);
	for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
		json_t *cur = NULL, *data = NULL, *out = NULL;
		bool local = false;
		long code = 0;

		err[0] = '\0';
		rc = kube_request(a->kube, "GET", path, NULL, &code, &cur, err, sizeof(err));
		if (rc == -ENOENT) {
			json_t *obj = new_object(posted, ns, name),
			       *st = json_object_get(posted, "status");
			char qcoll[600];
			snprintf(qcoll, sizeof(qcoll), "%s?fieldValidation=Strict", collection);
			rc = obj ? write_model(a, "POST", qcoll, ns, name, obj, &out, &local, &code,
					       err, sizeof(err))
				 : -ENOMEM;
			json_decref(obj);
			json_decref(cur);
			if (rc == -EEXIST) { /* created meanwhile: merge into it */
				json_decref(out);
				continue;
			}
			/* The status subresource is not written by a create. */
			if (rc == 0 && json_is_object(st)) {
				json_t *patch = json_pack("{s:O}", "status", st), *sout = NULL;
				char *body = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
				char spath[600];
				snprintf(spath, sizeof(spath), "%s/status", path);
				rc = body ? kube_request(a->kube, "PATCH", spath, body, &code,
							 &sout, err, sizeof(err))
					  : -ENOMEM;
				if (rc == 0) {
					json_object_set(out, "status",
							json_object_get(sout, "status"));
					json_object_set(out, "metadata",
							json_object_get(sout, "metadata"));
				}
				json_decref(patch);
				json_decref(sout);
				free(body);
			}
			if (rc == 0) {
				strip_server_fields(out);
				respond_json(resp, 201, out);
				count("armorsmith_status_imports_total", "Imports by outcome.",
				      "outcome", local ? "created_local_disk" : "created");
				log_info("imported %s/%s as a new model (%s)", ns, name,
					 local ? "LocalDisk" : "CRDInternal");
			} else {
				respond_write_error(resp, rc, code, err);
			}
			json_decref(out);
			goto done;
		}
		if (rc < 0) {
			respond_status(resp, 500, "InternalError", "%s", err);
			json_decref(cur);
			goto done;
		}
		if (is_local_disk(cur)) {
			rc = load_local(a, ns, name, &data, err, sizeof(err));
			if (rc < 0) {
				log_error("%s", err);
				respond_status(resp, 500, "InternalError", "%s", err);
				json_decref(cur);
				goto done;
			}
		} else {
			data = json_deep_copy(json_object_get(cur, "data"));
			if (!json_is_object(data)) {
				json_decref(data);
				data = json_object();
			}
		}
		rc = data ? apm_merge_data(data, pdata) : -ENOMEM;
		if (rc == 0) {
			json_object_set(cur, "data", data);
			json_object_set_new(cur, "storageType", json_string("CRDInternal"));
			strip_server_fields(cur);
			char qpath[600];
			snprintf(qpath, sizeof(qpath), "%s?fieldValidation=Strict", path);
			rc = write_model(a, "PUT", qpath, ns, name, cur, &out, &local, &code, err,
					 sizeof(err));
		}
		json_decref(data);
		json_decref(cur);
		if (rc == -EEXIST) { /* changed since we read it */
			json_decref(out);
			continue;
		}
		if (rc == 0) {
			strip_server_fields(out);
			respond_json(resp, 200, out);
			count("armorsmith_status_imports_total", "Imports by outcome.", "outcome",
			      local ? "merged_local_disk" : "merged");
			log_info("imported %s/%s, merged into the existing model (%s)", ns, name,
				 local ? "LocalDisk" : "CRDInternal");
		} else {
			respond_write_error(resp, rc, code, err);
		}
		json_decref(out);
		goto done;
	}
	respond_status(resp, 409, "Conflict",
		       "%s/%s kept changing while it was imported; try again", ns, name);
done:
	pthread_mutex_unlock(&a->import_lock);
	json_decref(posted);
}

void status_api_handle(const struct httpd_request *req, struct httpd_response *resp, void *ctx)
{
	struct status_api *a = ctx;
	char ns[64], name[254], shown[600];
	struct caller c = {0};
	const char *token;
	bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	int rc = parse_path(req->path, ns, sizeof(ns), name, sizeof(name));

	if (rc == -ENOENT) {
		respond_status(resp, 404, "NotFound",
			       "the server could not find the requested "
			       "resource");
		goto out;
	}
	if (!get && !post) {
		respond_status(resp, 405, "MethodNotAllowed", "method %s is not allowed here",
			       log_printable(req->method, shown, sizeof(shown)));
		httpd_add_header(resp, "Allow", "GET, POST");
		goto out;
	}
	if (rc < 0) {
		respond_status(
		    resp, 400, "BadRequest",
		    "invalid namespace or name in %s: a namespace is a DNS-1123 label, a "
		    "name a DNS-1123 subdomain",
		    log_printable(req->path, shown, sizeof(shown)));
		goto out;
	}
	token = bearer_token(req);
	if (!token) {
		respond_status(resp, 401, "Unauthorized",
			       "an Authorization: Bearer token is required");
		httpd_add_header(resp, "WWW-Authenticate", "Bearer");
		goto out;
	}
	if (authenticate(a, token, &c, resp) < 0)
		goto out;
	if (get) {
		if (authorize(a, &c, "get", ns, name, resp) == 0)
			handle_get(a, ns, name, resp);
	} else {
		/* An import creates the model or updates it: it needs both. */
		if (authorize(a, &c, "create", ns, name, resp) == 0 &&
		    authorize(a, &c, "update", ns, name, resp) == 0)
			handle_post(a, ns, name, req, resp);
	}
out : {
	char code[8];
	snprintf(code, sizeof(code), "%d", resp->status ? resp->status : 500);
	if (metrics_labels(shown, sizeof(shown), "method",
			   get	  ? "GET"
			   : post ? "POST"
				  : "other",
			   "code", code, NULL) == 0)
		metric_inc(metrics_counter("armorsmith_status_requests_total", shown,
					   "Requests answered, by method and status code."));
}
	json_decref(c.user);
}
