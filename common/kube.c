#include "kube.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

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
	char path[4096];
	int rc;

	if (!c)
		return -ENOMEM;
	err[0] = '\0';
	if (host && *host && access(SA_DIR "/token", R_OK) == 0) {
		char server[512];
		/* IPv6 service hosts need brackets in a URL. */
		snprintf(server, sizeof(server),
			 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
			 port && *port ? port : "443");
		c->server = strdup(server);
		c->token_file = strdup(SA_DIR "/token");
		c->ca_file = strdup(SA_DIR "/ca.crt");
		rc = c->server && c->token_file && c->ca_file ? 0 : -ENOMEM;
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

int kube_request(struct kube_client *c, const char *method, const char *path, const char *body,
		 long *status, json_t **out, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct blob resp = {0};
	char *url = NULL, *auth = NULL, *token = NULL;
	CURL *h = curl_easy_init();
	CURLcode cc;
	long code = 0;
	int rc = -EIO;

	*out = NULL;
	if (!h || asprintf(&url, "%s%s", c->server, path) < 0)
		goto out;
	token = c->token_file ? read_text_file(c->token_file, NULL)
			      : (c->token ? strdup(c->token) : NULL);
	if (token) {
		token[strcspn(token, "\r\n")] = '\0';
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
			goto out;
		hdrs = curl_slist_append(hdrs, auth);
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body)
		hdrs = curl_slist_append(hdrs, strcmp(method, "PATCH") == 0
						   ? "Content-Type: application/merge-patch+json"
						   : "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
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
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "kubernetes %s %s: %s", method, path, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	if (resp.data)
		*out = json_loads(resp.data, 0, NULL);
	if (code >= 200 && code < 300) {
		rc = 0;
	} else {
		const char *msg = json_string_value(json_object_get(*out, "message"));
		snprintf(err, errlen, "kubernetes %s %s: HTTP %ld: %s", method, path, code,
			 msg ? msg : "no message");
		rc = code == 404 ? -ENOENT : code == 409 ? -EEXIST : -EIO;
	}
out:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	free(url);
	free(auth);
	free(token);
	free(resp.data);
	return rc;
}
