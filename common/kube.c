#include "kube.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_CONFLICT_RETRIES 8

struct blob {
	char *data;
	size_t len;
};

struct kube_client {
	char *server;
	char *token;	  /* static token, or NULL */
	char *token_file; /* in-cluster: re-read on every request (it rotates) */
	char *ca_file;
	struct blob ca, cert, key;
	char *cert_file, *key_file;
	bool insecure;
	atomic_int interrupted;
};

static char *read_text_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int c;

	if (!f)
		return NULL;
	while ((c = fgetc(f)) != EOF) {
		if (n + 2 > cap) {
			char *g = realloc(buf, cap = cap ? cap * 2 : 4096);
			if (!g) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = g;
		}
		buf[n++] = (char)c;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Kubeconfig *-data fields are base64. */
static int base64_decode(const char *in, struct blob *out)
{
	size_t n = strlen(in), o = 0;
	unsigned acc = 0;
	int bits = 0;

	out->data = malloc(n / 4 * 3 + 4);
	if (!out->data)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		int v = ch >= 'A' && ch <= 'Z'	 ? ch - 'A'
			: ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
			: ch >= '0' && ch <= '9' ? ch - '0' + 52
			: ch == '+'		 ? 62
			: ch == '/'		 ? 63
						 : -1;
		if (ch == '=' || ch == '\n' || ch == '\r' || ch == ' ')
			continue;
		if (v < 0) {
			free(out->data);
			out->data = NULL;
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->data[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out->len = o;
	return 0;
}

static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
	(void)d;
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(d, yaml_document_get_node(d, p->key));
		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

/* The entry of a kubeconfig list (contexts, clusters, users) named name. */
static yaml_node_t *named_entry(yaml_document_t *d, yaml_node_t *root, const char *list,
				const char *name, const char *inner)
{
	yaml_node_t *seq = map_get(d, root, list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE || !name)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *e = yaml_document_get_node(d, *i);
		const char *n = scalar(d, map_get(d, e, "name"));
		if (n && strcmp(n, name) == 0)
			return map_get(d, e, inner);
	}
	return NULL;
}

static int dup_scalar(yaml_document_t *d, yaml_node_t *map, const char *key, char **out)
{
	const char *v = scalar(d, map_get(d, map, key));

	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

static int load_kubeconfig(struct kube_client *c, const char *path, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *ctx, *cluster, *user;
	const char *current, *data;
	FILE *f = fopen(path, "rb");
	int rc = -EINVAL;

	if (!f) {
		snprintf(err, errlen, "cannot read kubeconfig %s: %s", path, strerror(errno));
		return -errno;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "kubeconfig %s is not valid yaml (line %zu)", path,
			 parser.problem_mark.line + 1);
		goto out_parser;
	}
	root = yaml_document_get_root_node(&doc);
	current = scalar(&doc, map_get(&doc, root, "current-context"));
	ctx = named_entry(&doc, root, "contexts", current, "context");
	cluster = named_entry(&doc, root, "clusters", scalar(&doc, map_get(&doc, ctx, "cluster")),
			      "cluster");
	user = named_entry(&doc, root, "users", scalar(&doc, map_get(&doc, ctx, "user")), "user");
	if (!ctx || !cluster) {
		snprintf(err, errlen, "kubeconfig %s: no cluster for current context '%s'", path,
			 current ? current : "(none)");
		goto out_doc;
	}
	rc = dup_scalar(&doc, cluster, "server", &c->server);
	if (!rc && !c->server) {
		snprintf(err, errlen, "kubeconfig %s: cluster of context '%s' has no server", path,
			 current);
		rc = -EINVAL;
	}
	if (!rc)
		rc = dup_scalar(&doc, cluster, "certificate-authority", &c->ca_file);
	if (!rc && (data = scalar(&doc, map_get(&doc, cluster, "certificate-authority-data"))))
		rc = base64_decode(data, &c->ca);
	data = scalar(&doc, map_get(&doc, cluster, "insecure-skip-tls-verify"));
	c->insecure = data && strcmp(data, "true") == 0;
	if (!rc)
		rc = dup_scalar(&doc, user, "token", &c->token);
	if (!rc)
		rc = dup_scalar(&doc, user, "client-certificate", &c->cert_file);
	if (!rc)
		rc = dup_scalar(&doc, user, "client-key", &c->key_file);
	if (!rc && (data = scalar(&doc, map_get(&doc, user, "client-certificate-data"))))
		rc = base64_decode(data, &c->cert);
	if (!rc && (data = scalar(&doc, map_get(&doc, user, "client-key-data"))))
		rc = base64_decode(data, &c->key);
	if (rc == -EINVAL && !err[0])
		snprintf(err, errlen, "kubeconfig %s: invalid base64 in a *-data field", path);
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

int kube_client_new(struct kube_client **out, char *err, size_t errlen)
{
	struct kube_client *c = calloc(1, sizeof(*c));
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *sa_dir = getenv("ARMORSMITH_KUBE_SA_DIR");
	char path[4096];
	int rc;

	if (!c)
		return -ENOMEM;
	err[0] = '\0';
	atomic_init(&c->interrupted, 0);
	if (!sa_dir || !*sa_dir)
		sa_dir = SA_DIR;
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	if (host && *host && access(path, R_OK) == 0) {
		char server[512];
		/* IPv6 service hosts need brackets in a URL. */
		snprintf(server, sizeof(server),
			 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
			 port && *port ? port : "443");
		c->server = strdup(server);
		c->token_file = strdup(path);
		rc = asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0 ? -ENOMEM : 0;
		if (rc < 0)
			c->ca_file = NULL;
		if (!c->server || !c->token_file)
			rc = -ENOMEM;
	} else {
		const char *kc = getenv("KUBECONFIG");
		if (kc && *kc) {
			size_t n = strcspn(kc, ":");
			snprintf(path, sizeof(path), "%.*s", (int)n, kc);
		} else {
			snprintf(path, sizeof(path), "%s/.kube/config",
				 getenv("HOME") ? getenv("HOME") : "/root");
		}
		rc = load_kubeconfig(c, path, err, errlen);
	}
	if (rc < 0) {
		if (rc == -ENOMEM && !err[0])
			snprintf(err, errlen, "kubernetes client: out of memory");
		kube_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->token);
	free(c->token_file);
	free(c->ca_file);
	free(c->ca.data);
	free(c->cert.data);
	free(c->key.data);
	free(c->cert_file);
	free(c->key_file);
	free(c);
}

void kube_client_interrupt(struct kube_client *c)
{
	atomic_store(&c->interrupted, 1);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct blob *b = userdata;
	size_t n = size * nmemb;
	char *g = realloc(b->data, b->len + n + 1);

	if (!g)
		return 0;
	b->data = g;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* libcurl calls this at least once a second during a transfer, so an
 * interrupt ends even a watch that receives nothing. */
static int check_interrupt(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			   curl_off_t ulnow)
{
	struct kube_client *c = userdata;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(&c->interrupted) ? 1 : 0;
}

/* HTTP status (and the Status message, because etcd's size limits come back
 * as 500) to the codes kube.h documents. */
static int status_errno(long code, const char *msg)
{
	if (code >= 200 && code < 300)
		return 0;
	if (code == 413 ||
	    (msg &&
	     (strstr(msg, "request is too large") || strcasestr(msg, "request entity too large") ||
	      /* the API server's gRPC client refuses > 2 MiB before etcd sees it */
	      strstr(msg, "message larger than max"))))
		return -E2BIG;
	switch (code) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	case 410:
		return -ESTALE;
	default:
		return -EIO;
	}
}

/* A request handle with the client's TLS settings and credentials; the
 * in-cluster token is read here, on every request, because the kubelet
 * rotates it. */
static int open_handle(struct kube_client *c, const char *method, const char *path,
		       const char *body, CURL **hp, struct curl_slist **hdrsp, char *err,
		       size_t errlen)
{
	struct curl_slist *hdrs = NULL, *h2;
	char *url = NULL, *auth = NULL, *token = NULL;
	CURL *h = NULL;
	int rc = -ENOMEM;

	if (atomic_load(&c->interrupted)) {
		snprintf(err, errlen, "kubernetes %s %s: interrupted", method, path);
		return -EINTR;
	}
	if (c->token_file) {
		token = read_text_file(c->token_file, NULL);
		if (!token) {
			snprintf(err, errlen, "kubernetes %s %s: cannot read token %s: %s", method,
				 path, c->token_file, strerror(errno));
			rc = -EACCES;
			goto cleanup;
		}
	} else if (c->token && !(token = strdup(c->token))) {
		goto cleanup;
	}
	h = curl_easy_init();
	if (!h || asprintf(&url, "%s%s", c->server, path) < 0) {
		url = NULL;
		goto cleanup;
	}
	if (token) {
		token[strcspn(token, "\r\n")] = '\0';
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
			auth = NULL;
			goto cleanup;
		}
		if (!(h2 = curl_slist_append(hdrs, auth)))
			goto cleanup;
		hdrs = h2;
	}
	if (!(h2 = curl_slist_append(hdrs, "Accept: application/json")))
		goto cleanup;
	hdrs = h2;
	if (body) {
		h2 = curl_slist_append(hdrs, strcmp(method, "PATCH") == 0
						 ? "Content-Type: application/merge-patch+json"
						 : "Content-Type: application/json");
		if (!h2)
			goto cleanup;
		hdrs = h2;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	/* a peer gone silently (no RST) fails a transfer within about 2 min */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, check_interrupt);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->ca.data) {
		struct curl_blob b = {c->ca.data, c->ca.len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	}
	if (c->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	if (c->cert.data) {
		struct curl_blob b = {c->cert.data, c->cert.len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
	}
	if (c->key.data) {
		struct curl_blob b = {c->key.data, c->key.len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
	}
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	*hp = h;
	*hdrsp = hdrs;
	h = NULL;
	hdrs = NULL;
	rc = 0;
cleanup:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "kubernetes %s %s: out of memory", method, path);
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(url);
	if (auth)
		explicit_bzero(auth, strlen(auth));
	free(auth);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	return rc;
}

/* The error for a failed transfer; -EINTR when kube_client_interrupt ended it. */
static int transfer_error(struct kube_client *c, CURLcode cc, const char *method, const char *path,
			  char *err, size_t errlen)
{
	if (cc == CURLE_ABORTED_BY_CALLBACK && atomic_load(&c->interrupted)) {
		snprintf(err, errlen, "kubernetes %s %s: interrupted", method, path);
		return -EINTR;
	}
	snprintf(err, errlen, "kubernetes %s %s: %s", method, path, curl_easy_strerror(cc));
	return -EIO;
}

static int http_error(long code, json_t *status, const char *method, const char *path, char *err,
		      size_t errlen)
{
	const char *msg = json_string_value(json_object_get(status, "message"));

	snprintf(err, errlen, "kubernetes %s %s: HTTP %ld: %s", method, path, code,
		 msg ? msg : "no message");
	return status_errno(code, msg);
}

int kube_request(struct kube_client *c, const char *method, const char *path, const char *body,
		 long *status, json_t **out, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct blob resp = {0};
	CURL *h = NULL;
	CURLcode cc;
	long code = 0;
	int rc;

	*out = NULL;
	if (status)
		*status = 0;
	rc = open_handle(c, method, path, body, &h, &hdrs, err, errlen);
	if (rc < 0)
		goto cleanup;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = transfer_error(c, cc, method, path, err, errlen);
		goto cleanup;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (status)
		*status = code;
	if (resp.data)
		*out = json_loadb(resp.data, resp.len, 0, NULL);
	if (code < 200 || code >= 300)
		rc = http_error(code, *out, method, path, err, errlen);
cleanup:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	free(resp.data);
	return rc;
}

static int request_json(struct kube_client *c, const char *method, const char *path, json_t *obj,
			json_t **out, char *err, size_t errlen)
{
	char *body = json_dumps(obj, JSON_COMPACT);
	long status;
	int rc;

	if (!body) {
		*out = NULL;
		snprintf(err, errlen, "kubernetes %s %s: cannot encode the object", method, path);
		return -ENOMEM;
	}
	rc = kube_request(c, method, path, body, &status, out, err, errlen);
	free(body);
	return rc;
}

static const char *object_rv(json_t *obj)
{
	return json_string_value(
	    json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static int set_rv(json_t *obj, const char *rv)
{
	json_t *meta = json_object_get(obj, "metadata");

	if (!json_is_object(meta)) {
		meta = json_object();
		if (!meta || json_object_set_new(obj, "metadata", meta) < 0)
			return -ENOMEM;
	}
	if (!rv) {
		json_object_del(meta, "resourceVersion");
		return 0;
	}
	return json_object_set_new(meta, "resourceVersion", json_string(rv)) < 0 ? -ENOMEM : 0;
}

int kube_update(struct kube_client *c, const char *path, kube_mutate_fn mutate, void *ctx,
		json_t **out, char *err, size_t errlen)
{
	json_t *obj = NULL, *res = NULL;
	char *rv = NULL;
	long status;
	int rc = -EEXIST;

	if (out)
		*out = NULL;
	for (int attempt = 0; attempt <= KUBE_CONFLICT_RETRIES; attempt++) {
		json_decref(obj);
		json_decref(res);
		obj = res = NULL;
		free(rv);
		rv = NULL;
		rc = kube_request(c, "GET", path, NULL, &status, &obj, err, errlen);
		if (rc < 0)
			goto cleanup;
		if (!json_is_object(obj) || !object_rv(obj)) {
			snprintf(err, errlen, "kubernetes GET %s: no object with a resourceVersion",
				 path);
			rc = -EIO;
			goto cleanup;
		}
		if (!(rv = strdup(object_rv(obj))))
			goto nomem;
		rc = mutate(obj, ctx);
		if (rc < 0) {
			snprintf(err, errlen, "kubernetes update %s: abandoned by the caller: %s",
				 path, strerror(-rc));
			goto cleanup;
		}
		if (rc > 0) {
			res = obj;
			obj = NULL;
			rc = 0;
			goto cleanup;
		}
		/* the resourceVersion is what makes this write conditional */
		if (set_rv(obj, rv) < 0)
			goto nomem;
		rc = request_json(c, "PUT", path, obj, &res, err, errlen);
		if (rc != -EEXIST)
			goto cleanup;
	}
	snprintf(err + strlen(err), errlen - strlen(err), " (still conflicting after %d retries)",
		 KUBE_CONFLICT_RETRIES);
	goto cleanup;
nomem:
	snprintf(err, errlen, "kubernetes update %s: out of memory", path);
	rc = -ENOMEM;
cleanup:
	if (rc < 0) {
		json_decref(res);
		res = NULL;
	}
	if (out)
		*out = res;
	else
		json_decref(res);
	json_decref(obj);
	free(rv);
	return rc;
}

/* path with "/suffix" inserted before its query string, if any. */
static char *path_join(const char *path, const char *suffix)
{
	const char *q = strchr(path, '?');
	size_t n = q ? (size_t)(q - path) : strlen(path);
	char *out;

	if (asprintf(&out, "%.*s/%s%s", (int)n, path, suffix, q ? q : "") < 0)
		return NULL;
	return out;
}

int kube_create_or_replace(struct kube_client *c, const char *collection, json_t *obj, json_t **out,
			   char *err, size_t errlen)
{
	const char *name =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	json_t *res = NULL, *cur = NULL, *copy = NULL;
	char *path = NULL;
	bool create = true;
	long status;
	int rc = -EEXIST;

	if (out)
		*out = NULL;
	if (!name || !*name || strchr(name, '/')) {
		snprintf(err, errlen,
			 "kubernetes create in %s: the object has no valid metadata.name",
			 collection);
		return -EINVAL;
	}
	path = path_join(collection, name);
	copy = json_deep_copy(obj);
	if (!path || !copy) {
		snprintf(err, errlen, "kubernetes create in %s: out of memory", collection);
		rc = -ENOMEM;
		goto cleanup;
	}
	for (int attempt = 0; attempt <= KUBE_CONFLICT_RETRIES; attempt++) {
		const char *reason;

		json_decref(res);
		json_decref(cur);
		res = cur = NULL;
		if (create) {
			if (set_rv(copy, NULL) < 0)
				goto nomem;
			rc = request_json(c, "POST", collection, copy, &res, err, errlen);
			reason = json_string_value(json_object_get(res, "reason"));
			if (rc != -EEXIST || !reason || strcmp(reason, "AlreadyExists") != 0)
				goto cleanup;
			json_decref(res);
			res = NULL;
		}
		rc = kube_request(c, "GET", path, NULL, &status, &cur, err, errlen);
		/* deleted since the POST: create it again */
		create = rc == -ENOENT;
		if (create)
			continue;
		if (rc < 0)
			goto cleanup;
		if (set_rv(copy, object_rv(cur)) < 0)
			goto nomem;
		rc = request_json(c, "PUT", path, copy, &res, err, errlen);
		create = rc == -ENOENT;
		if (rc != -EEXIST && rc != -ENOENT)
			goto cleanup;
	}
	snprintf(err + strlen(err), errlen - strlen(err), " (still conflicting after %d retries)",
		 KUBE_CONFLICT_RETRIES);
	goto cleanup;
nomem:
	snprintf(err, errlen, "kubernetes create or replace %s: out of memory", path);
	rc = -ENOMEM;
cleanup:
	if (rc < 0) {
		json_decref(res);
		res = NULL;
	}
	if (out)
		*out = res;
	else
		json_decref(res);
	json_decref(cur);
	json_decref(copy);
	free(path);
	return rc;
}

static bool has_param(const char *path, const char *name)
{
	const char *q = strchr(path, '?');
	size_t n = strlen(name);

	for (const char *p = q; p; p = strchr(p + 1, '&'))
		if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=')
			return true;
	return false;
}

static int copy_rv(char *rv, size_t rvlen, const char *v, const char *path, char *err,
		   size_t errlen)
{
	if (strlen(v) >= rvlen) {
		snprintf(err, errlen, "kubernetes %s: resourceVersion '%.40s' is longer than %zu",
			 path, v, rvlen - 1);
		return -ERANGE;
	}
	strcpy(rv, v);
	return 0;
}

int kube_list(struct kube_client *c, const char *collection, kube_watch_fn fn, void *ctx, char *rv,
	      size_t rvlen, char *err, size_t errlen)
{
	bool limit = !has_param(collection, "limit");
	char sep = strchr(collection, '?') ? '&' : '?';
	char *cont = NULL, *path = NULL, *esc = NULL;
	json_t *list = NULL;
	long status;
	int rc = 0;

	if (!rvlen) {
		snprintf(err, errlen, "kubernetes list %s: no room for the resourceVersion",
			 collection);
		return -EINVAL;
	}
	rv[0] = '\0';
	do {
		const char *next, *lrv;
		json_t *items;

		free(path);
		path = NULL;
		if (cont && !(esc = curl_easy_escape(NULL, cont, 0))) {
			rc = -ENOMEM;
			goto cleanup;
		}
		if (!limit && !esc)
			path = strdup(collection);
		else if (asprintf(&path, "%s%c%s%s%s%s", collection, sep, limit ? "limit=500" : "",
				  limit && esc ? "&" : "", esc ? "continue=" : "",
				  esc ? esc : "") < 0)
			path = NULL;
		if (!path) {
			rc = -ENOMEM;
			goto cleanup;
		}
		curl_free(esc);
		esc = NULL;
		json_decref(list);
		rc = kube_request(c, "GET", path, NULL, &status, &list, err, errlen);
		if (rc < 0)
			goto cleanup;
		items = json_object_get(list, "items");
		if (!json_is_array(items) && !json_is_null(items)) {
			snprintf(err, errlen, "kubernetes GET %s: the response is not a list",
				 path);
			rc = -EIO;
			goto cleanup;
		}
		lrv = json_string_value(
		    json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
		if (lrv && (rc = copy_rv(rv, rvlen, lrv, path, err, errlen)) < 0)
			goto cleanup;
		for (size_t i = 0; i < json_array_size(items); i++)
			if (fn("ADDED", json_array_get(items, i), ctx) != 0)
				goto cleanup;
		next = json_string_value(
		    json_object_get(json_object_get(list, "metadata"), "continue"));
		free(cont);
		cont = next && *next ? strdup(next) : NULL;
		if (next && *next && !cont) {
			rc = -ENOMEM;
			goto cleanup;
		}
	} while (cont);
cleanup:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "kubernetes list %s: out of memory", collection);
	json_decref(list);
	curl_free(esc);
	free(cont);
	free(path);
	return rc;
}

/* A watch response is one JSON event per line; lines arrive split across
 * writes or several per write, and one event can be megabytes. */
struct watch_state {
	struct kube_client *c;
	CURL *h;
	const char *path;
	long code;
	struct blob buf; /* the partial line, or an error response's body */
	size_t cap;
	char *rv;
	size_t rvlen;
	kube_watch_fn fn;
	void *ctx;
	int rc;
	bool stopped;
	char *err;
	size_t errlen;
};

#define WATCH_EVENT_MAX (64u << 20)

static int watch_append(struct watch_state *w, const char *p, size_t n)
{
	if (w->buf.len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 64 * 1024;
		char *g;

		if (w->buf.len + n + 1 > WATCH_EVENT_MAX) {
			snprintf(w->err, w->errlen,
				 "kubernetes watch %s: an event is over %u bytes", w->path,
				 WATCH_EVENT_MAX);
			return w->rc = -EIO;
		}
		while (cap < w->buf.len + n + 1)
			cap *= 2;
		if (!(g = realloc(w->buf.data, cap))) {
			snprintf(w->err, w->errlen, "kubernetes watch %s: out of memory", w->path);
			return w->rc = -ENOMEM;
		}
		w->buf.data = g;
		w->cap = cap;
	}
	memcpy(w->buf.data + w->buf.len, p, n);
	w->buf.len += n;
	w->buf.data[w->buf.len] = '\0';
	return 0;
}

static void watch_event(struct watch_state *w, const char *line, size_t n)
{
	json_t *ev, *obj;
	json_error_t jerr;
	const char *type, *v;

	while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (!n)
		return;
	ev = json_loadb(line, n, 0, &jerr);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		snprintf(w->err, w->errlen, "kubernetes watch %s: undecodable event: %s", w->path,
			 ev ? "no type or object" : jerr.text);
		w->rc = -EIO;
		goto cleanup;
	}
	if (strcmp(type, "ERROR") == 0) {
		long code = (long)json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));

		snprintf(w->err, w->errlen, "kubernetes watch %s: ERROR event %ld: %s", w->path,
			 code, msg ? msg : "no message");
		w->rc = status_errno(code, msg);
		if (w->rc == 0)
			w->rc = -EIO;
		goto cleanup;
	}
	v = object_rv(obj);
	if (v && (w->rc = copy_rv(w->rv, w->rvlen, v, w->path, w->err, w->errlen)) < 0)
		goto cleanup;
	if (w->fn(type, obj, w->ctx) != 0)
		w->stopped = true;
cleanup:
	json_decref(ev);
}

static size_t watch_write(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct watch_state *w = userdata;
	const char *s = p, *end = p + size * nmemb;

	if (!w->code)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->code);
	if (w->code < 200 || w->code >= 300) /* a Status, decoded at the end */
		return watch_append(w, p, size * nmemb) ? 0 : size * nmemb;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));

		if (!nl)
			return watch_append(w, s, (size_t)(end - s)) ? 0 : size * nmemb;
		if (w->buf.len) {
			if (watch_append(w, s, (size_t)(nl - s)))
				return 0;
			watch_event(w, w->buf.data, w->buf.len);
			w->buf.len = 0;
		} else {
			watch_event(w, s, (size_t)(nl - s));
		}
		if (w->rc || w->stopped)
			return 0; /* ends the transfer */
		s = nl + 1;
	}
	return size * nmemb;
}

int kube_watch(struct kube_client *c, const char *collection, const char *query, char *rv,
	       size_t rvlen, int timeout_s, kube_watch_fn fn, void *ctx, char *err, size_t errlen)
{
	struct watch_state w = {
	    .c = c, .rv = rv, .rvlen = rvlen, .fn = fn, .ctx = ctx, .err = err, .errlen = errlen};
	struct curl_slist *hdrs = NULL;
	char *path = NULL, *esc = NULL;
	json_t *status = NULL;
	CURLcode cc;
	int rc;

	err[0] = '\0';
	if (timeout_s <= 0 || !rvlen) {
		snprintf(err, errlen, "kubernetes watch %s: timeout %d s or rv size %zu is invalid",
			 collection, timeout_s, rvlen);
		return -EINVAL;
	}
	if (rv[0] && !(esc = curl_easy_escape(NULL, rv, 0))) {
		rc = -ENOMEM;
		goto cleanup;
	}
	if (asprintf(&path, "%s%cwatch=1&allowWatchBookmarks=true%s%s&timeoutSeconds=%d%s%s",
		     collection, strchr(collection, '?') ? '&' : '?',
		     esc ? "&resourceVersion=" : "", esc ? esc : "", timeout_s,
		     query && *query ? "&" : "", query && *query ? query : "") < 0) {
		path = NULL;
		rc = -ENOMEM;
		goto cleanup;
	}
	w.path = path;
	rc = open_handle(c, "GET", path, NULL, &w.h, &hdrs, err, errlen);
	if (rc < 0)
		goto cleanup;
	curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
	/* The server ends the stream at timeout_s; this only catches a server
	 * that does not. A watch on a quiet collection gets no byte at all
	 * (bookmarks come only after a change), so no low-speed limit: a dead
	 * peer is found by TCP keepalive (open_handle). */
	curl_easy_setopt(w.h, CURLOPT_TIMEOUT, (long)timeout_s + 30);
	cc = curl_easy_perform(w.h);
	if (!w.code) /* an empty stream: the write callback never ran */
		curl_easy_getinfo(w.h, CURLINFO_RESPONSE_CODE, &w.code);
	if (w.rc < 0) {
		rc = w.rc;
	} else if (w.stopped) {
		rc = 0;
	} else if (cc != CURLE_OK) {
		rc = transfer_error(c, cc, "GET", path, err, errlen);
	} else if (w.code < 200 || w.code >= 300) {
		if (w.buf.len)
			status = json_loadb(w.buf.data, w.buf.len, 0, NULL);
		rc = http_error(w.code, status, "GET", path, err, errlen);
		if (rc == 0)
			rc = -EIO;
	} else if (w.buf.len) {
		snprintf(err, errlen, "kubernetes watch %s: the stream ended inside an event",
			 path);
		rc = -EIO;
	}
cleanup:
	if (rc == -ENOMEM && !err[0])
		snprintf(err, errlen, "kubernetes watch %s: out of memory", collection);
	json_decref(status);
	curl_slist_free_all(hdrs);
	if (w.h)
		curl_easy_cleanup(w.h);
	free(w.buf.data);
	curl_free(esc);
	free(path);
	return rc;
}
