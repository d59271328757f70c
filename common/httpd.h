/* A small HTTP(S) server on libmicrohttpd: one thread per connection (so a
 * handler may block on the Kubernetes API), request bodies collected up to a
 * bound, every request answered by one callback. */
#ifndef ARMORSMITH_HTTPD_H
#define ARMORSMITH_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HTTPD_DEFAULT_MAX_BODY (1u << 20)
#define HTTPD_MAX_HEADERS 4

struct httpd;

struct httpd_request {
	const char *method; /* as sent: GET, POST, ... */
	const char *path;   /* without the query string */
	const char *body;   /* NUL-terminated; "" when there was none */
	size_t body_len;
	void *conn; /* for httpd_header() */
};

/* What the handler fills in. body is malloc'ed and freed by the server. */
struct httpd_response {
	int status;
	const char *content_type; /* default application/json */
	char *body;
	size_t body_len;
	struct {
		const char *name;
		char *value;
	} headers[HTTPD_MAX_HEADERS];
	int n_headers;
};

/* The request header name (case-insensitive), or NULL. */
const char *httpd_header(const struct httpd_request *req, const char *name);

/* Sets status, content type and a copy of body. 0 or -ENOMEM. */
int httpd_respond(struct httpd_response *resp, int status, const char *content_type,
		  const char *body);
/* Adds a response header (value copied); -ENOSPC past HTTPD_MAX_HEADERS. */
int httpd_add_header(struct httpd_response *resp, const char *name, const char *value);

/* Called once per complete request from the connection's thread. A handler
 * that leaves status at 0 produces a 500. */
typedef void (*httpd_handler_fn)(const struct httpd_request *req, struct httpd_response *resp,
				 void *ctx);

struct httpd_options {
	const char
	    *addr; /* "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses); port 0 picks one */
	const char *tls_cert; /* PEM files; both or neither */
	const char *tls_key;
	size_t max_body;	  /* larger bodies get 413; 0: HTTPD_DEFAULT_MAX_BODY */
	unsigned max_connections; /* 0: 64 */
	httpd_handler_fn handler;
	void *ctx;
};

/* Parses addr into *ss. Numeric hosts are taken as they are, names are
 * resolved. 0, or -EINVAL with err saying what is wrong. */
int httpd_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		     size_t errlen);

/* Listens and serves until httpd_stop(). Errors (bad address, unreadable
 * certificate, port in use) are in err. */
int httpd_start(const struct httpd_options *opt, struct httpd **out, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t httpd_port(const struct httpd *h);
/* Stops listening, waits for the connection threads, frees h (NULL is fine). */
void httpd_stop(struct httpd *h);

#endif
