#include "httpd.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct httpd {
	struct MHD_Daemon *daemon;
	httpd_handler_fn handler;
	void *ctx;
	size_t max_body;
	char *cert, *key; /* PEM text: libmicrohttpd keeps pointers to them */
	char lasterr[256];
	bool started;
	uint16_t port;
};

/* One request's body as it arrives. */
struct pending {
	char *buf;
	size_t len, cap;
	bool too_large;
};

int httpd_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		     size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
	char host[256];
	const char *port, *colon;
	char *end;
	unsigned long pnum;
	int gai;

	if (!addr || !*addr) {
		snprintf(err, errlen, "empty listen address");
		return -EINVAL;
	}
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof(host)) {
			snprintf(err, errlen, "listen address '%s' is not [HOST]:PORT", addr);
			return -EINVAL;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(close - addr - 1), addr + 1);
		port = close + 2;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon ||
		    (size_t)(colon - addr) >= sizeof(host)) {
			snprintf(err, errlen,
				 "listen address '%s' is not HOST:PORT (IPv6 hosts in brackets)",
				 addr);
			return -EINVAL;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		port = colon + 1;
		hints.ai_family = AF_UNSPEC;
	}
	errno = 0;
	pnum = strtoul(port, &end, 10);
	if (!*port || *end || errno || pnum > 65535 || *port == '-' || *port == '+') {
		snprintf(err, errlen, "listen address '%s' has no valid port", addr);
		return -EINVAL;
	}
	hints.ai_flags |= AI_NUMERICSERV;
	gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai != 0 || !res) {
		snprintf(err, errlen, "listen address '%s': %s", addr,
			 gai ? gai_strerror(gai) : "no address");
		if (res)
			freeaddrinfo(res);
		return -EINVAL;
	}
	/* ":PORT" means every address: prefer IPv4's wildcard, which always exists. */
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
			memcpy(ss, ai->ai_addr, ai->ai_addrlen);
			*sslen = ai->ai_addrlen;
			if (ai->ai_family == AF_INET || *host)
				break;
		}
	}
	freeaddrinfo(res);
	return 0;
}

const char *httpd_header(const struct httpd_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int httpd_respond(struct httpd_response *resp, int status, const char *content_type,
		  const char *body)
{
	char *copy = strdup(body ? body : "");

	if (!copy)
		return -ENOMEM;
	free(resp->body);
	resp->body = copy;
	resp->body_len = strlen(copy);
	resp->status = status;
	resp->content_type = content_type;
	return 0;
}

int httpd_add_header(struct httpd_response *resp, const char *name, const char *value)
{
	char *copy;

	if (resp->n_headers >= HTTPD_MAX_HEADERS)
		return -ENOSPC;
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	resp->headers[resp->n_headers].name = name;
	resp->headers[resp->n_headers].value = copy;
	resp->n_headers++;
	return 0;
}

static void response_clear(struct httpd_response *resp)
{
	free(resp->body);
	for (int i = 0; i < resp->n_headers; i++)
		free(resp->headers[i].value);
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct httpd_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	if (!resp->status) {
		response_clear(resp);
		memset(resp, 0, sizeof(*resp));
		if (httpd_respond(resp, 500, "application/json",
				  "{\"kind\":\"Status\",\"status\":\"Failure\","
				  "\"message\":\"internal error\",\"code\":500}\n") < 0)
			return MHD_NO;
	}
	r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		response_clear(resp);
		return MHD_NO;
	}
	resp->body = NULL; /* now owned by the response */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	for (int i = 0; i < resp->n_headers; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	ok = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	response_clear(resp);
	return ok;
}

static enum MHD_Result too_large(struct httpd *h, struct MHD_Connection *conn)
{
	struct httpd_response resp = {0};
	char body[256];

	snprintf(body, sizeof(body),
		 "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"request body larger "
		 "than %zu bytes\",\"reason\":\"RequestEntityTooLarge\",\"code\":413}\n",
		 h->max_body);
	if (httpd_respond(&resp, 413, "application/json", body) < 0)
		return MHD_NO;
	return queue(conn, &resp);
}

static int pending_append(struct pending *p, const char *data, size_t n, size_t max)
{
	if (p->len + n > max)
		return -E2BIG;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *g;
		while (cap < p->len + n + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		g = realloc(p->buf, cap);
		if (!g)
			return -ENOMEM;
		p->buf = g;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	p->buf[p->len] = '\0';
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct pending *p = *con_cls;
	struct httpd_request req;
	struct httpd_response resp = {0};

	(void)version;
	if (!p) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		p = calloc(1, sizeof(*p));
		if (!p)
			return MHD_NO;
		*con_cls = p;
		/* Refuse before reading the body (and before 100 Continue). */
		if (cl && strtoull(cl, NULL, 10) > h->max_body) {
			p->too_large = true;
			return too_large(h, conn);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!p->too_large) {
			int rc = pending_append(p, upload_data, *upload_data_size, h->max_body);
			if (rc == -ENOMEM)
				return MHD_NO;
			if (rc < 0) {
				/* Chunked and over the bound: drop what came, answer at the end. */
				p->too_large = true;
				free(p->buf);
				p->buf = NULL;
				p->len = p->cap = 0;
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (p->too_large)
		return too_large(h, conn);
	req.method = method;
	req.path = url;
	req.body = p->buf ? p->buf : "";
	req.body_len = p->len;
	req.conn = conn;
	h->handler(&req, &resp, h->ctx);
	return queue(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct pending *p = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (p) {
		free(p->buf);
		free(p);
		*con_cls = NULL;
	}
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *h = cls;
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strcspn(msg, "\r\n");
	msg[n] = '\0';
	if (h->started)
		log_warn("http: %s", msg);
	else
		snprintf(h->lasterr, sizeof(h->lasterr), "%s", msg);
}

static char *read_pem(const char *path, const char *what, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int c;

	if (!f) {
		snprintf(err, errlen, "cannot read TLS %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	out = open_memstream(&buf, &len);
	while (out && (c = fgetc(f)) != EOF)
		fputc(c, out);
	if (out)
		fclose(out);
	fclose(f);
	if (!buf || !strstr(buf, "-----BEGIN ")) {
		snprintf(err, errlen, "TLS %s %s is not PEM", what, path);
		free(buf);
		return NULL;
	}
	return buf;
}

static uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

int httpd_start(const struct httpd_options *opt, struct httpd **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct httpd *h;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	int rc;

	*out = NULL;
	if (!opt->handler) {
		snprintf(err, errlen, "no request handler");
		return -EINVAL;
	}
	if (!opt->tls_cert != !opt->tls_key) {
		snprintf(err, errlen, "TLS needs both a certificate and a key");
		return -EINVAL;
	}
	rc = httpd_parse_addr(opt->addr, &ss, &sslen, err, errlen);
	if (rc < 0)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->handler = opt->handler;
	h->ctx = opt->ctx;
	h->max_body = opt->max_body ? opt->max_body : HTTPD_DEFAULT_MAX_BODY;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (opt->tls_cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			snprintf(err, errlen, "this libmicrohttpd has no TLS support");
			rc = -ENOTSUP;
			goto fail;
		}
		h->cert = read_pem(opt->tls_cert, "certificate", err, errlen);
		h->key = h->cert ? read_pem(opt->tls_key, "key", err, errlen) : NULL;
		if (!h->key) {
			rc = -EINVAL;
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	{
		struct MHD_OptionItem tls[] = {
		    {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert},
		    {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
		    {MHD_OPTION_END, 0, NULL},
		};
		h->daemon = MHD_start_daemon(
		    flags, sockaddr_port(&ss), NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
		    (struct sockaddr *)&ss, MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned)(opt->max_connections ? opt->max_connections : 64),
		    MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_ARRAY, h->cert ? tls : tls + 2,
		    MHD_OPTION_END);
	}
	if (!h->daemon) {
		snprintf(err, errlen, "cannot serve http%s on %s: %s", h->cert ? "s" : "",
			 opt->addr, h->lasterr[0] ? h->lasterr : "libmicrohttpd refused to start");
		rc = -EADDRNOTAVAIL;
		goto fail;
	}
	h->started = true;
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : sockaddr_port(&ss);
	*out = h;
	return 0;
fail:
	free(h->cert);
	free(h->key);
	free(h);
	return rc;
}

uint16_t httpd_port(const struct httpd *h)
{
	return h ? h->port : 0;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h->cert);
	free(h->key);
	free(h);
}
