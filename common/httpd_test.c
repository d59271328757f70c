/* The HTTP(S) server against a real client (libcurl): routing of method,
 * path, headers and body; the body bound for Content-Length and chunked
 * uploads; IPv4 and IPv6 addresses; TLS with a certificate made here by
 * `openssl req`; start-up errors. */
#include "httpd.h"
#include "testing.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct buf {
	char *data;
	size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	char *g = realloc(b->data, b->len + size * n + 1);

	if (!g)
		return 0;
	b->data = g;
	memcpy(b->data + b->len, p, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

struct upload {
	size_t left;
};

static size_t produce(char *p, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t k = size * n < u->left ? size * n : u->left;

	memset(p, 'x', k);
	u->left -= k;
	return k;
}

/* One request; returns the HTTP status (0 when the transfer failed) and the
 * body in *out (caller frees). chunked > 0 uploads that many bytes chunked. */
static long request(const char *url, const char *method, const char *body, size_t chunked,
		    const char *cafile, char **out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct buf b = {0};
	struct upload up = {chunked};
	long code = 0;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	hdrs = curl_slist_append(hdrs, "X-Test: hello");
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (chunked) {
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, produce);
		curl_easy_setopt(h, CURLOPT_READDATA, &up);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (cafile)
		curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (out)
		*out = b.data ? b.data : strdup("");
	else
		free(b.data);
	return code;
}

/* Echoes what it was given, so the client side can check each part. */
static void echo(const struct httpd_request *req, struct httpd_response *resp, void *ctx)
{
	char text[512];
	const char *x = httpd_header(req, "x-test");
	int *calls = ctx;

	(*calls)++;
	if (strcmp(req->path, "/nostatus") == 0)
		return;
	snprintf(text, sizeof(text), "%s %s %zu %s %d", req->method, req->path, req->body_len,
		 x ? x : "-", req->body_len == strlen(req->body));
	httpd_respond(resp, strcmp(req->path, "/teapot") == 0 ? 418 : 200, "text/plain", text);
	httpd_add_header(resp, "X-Echo", "yes");
}

static void test_parse_addr(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];
	static const char *const bad[] = {"",	       "nohost", "1.2.3.4:", "1.2.3.4:70000",
					  "[::1]",     "::1:80", "[zz]:80",  "1.2.3.4:-1",
					  "1.2.3.4:8x"};

	CHECK(httpd_parse_addr("127.0.0.1:8080", &ss, &len, err, sizeof(err)) == 0);
	CHECK(ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) == 8080);
	CHECK(((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK(httpd_parse_addr("[::1]:9090", &ss, &len, err, sizeof(err)) == 0);
	CHECK(ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 9090);
	CHECK(len == sizeof(struct sockaddr_in6));
	CHECK(httpd_parse_addr("0.0.0.0:80", &ss, &len, err, sizeof(err)) == 0);
	CHECK(ss.ss_family == AF_INET &&
	      ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY));
	CHECK(httpd_parse_addr(":0", &ss, &len, err, sizeof(err)) == 0);
	CHECK(ss.ss_family == AF_INET);
	CHECK(httpd_parse_addr("localhost:1", &ss, &len, err, sizeof(err)) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(httpd_parse_addr(bad[i], &ss, &len, err, sizeof(err)) == -EINVAL);
		CHECK(err[0] != '\0');
	}
	httpd_parse_addr("1.2.3.4:70000", &ss, &len, err, sizeof(err));
	CHECK(strstr(err, "1.2.3.4:70000") && strstr(err, "port"));
}

static void test_plain(const char *listen, const char *host)
{
	int calls = 0;
	struct httpd_options opt = {
	    .addr = listen, .max_body = 1024, .handler = echo, .ctx = &calls};
	struct httpd *h = NULL;
	char err[256], url[128], big[2048];
	char *out = NULL;

	CHECK(httpd_start(&opt, &h, err, sizeof(err)) == 0);
	if (!h) {
		fprintf(stderr, "start %s: %s\n", listen, err);
		return;
	}
	CHECK(httpd_port(h) != 0);
	snprintf(url, sizeof(url), "http://%s:%u/a/b?x=1", host, httpd_port(h));
	CHECK(request(url, "GET", NULL, 0, NULL, &out) == 200);
	CHECK_STR(out, "GET /a/b 0 hello 1");
	free(out);
	CHECK(request(url, "POST", "{\"k\":1}", 0, NULL, &out) == 200);
	CHECK_STR(out, "POST /a/b 7 hello 1");
	free(out);
	memset(big, 'y', 1024);
	big[1024] = '\0';
	CHECK(request(url, "PUT", big, 0, NULL, &out) == 200); /* exactly the bound */
	CHECK_STR(out, "PUT /a/b 1024 hello 1");
	free(out);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	calls = 0;
	CHECK(request(url, "POST", big, 0, NULL, &out) == 413);
	CHECK(strstr(out, "\"code\":413") && strstr(out, "1024 bytes"));
	free(out);
	CHECK(request(url, "POST", NULL, 5000, NULL, &out) == 413); /* chunked */
	free(out);
	CHECK(calls == 0);					   /* neither reached the handler */
	CHECK(request(url, "POST", NULL, 600, NULL, &out) == 200); /* chunked, in bound */
	CHECK_STR(out, "POST /a/b 600 hello 1");
	free(out);
	snprintf(url, sizeof(url), "http://%s:%u/teapot", host, httpd_port(h));
	CHECK(request(url, "DELETE", NULL, 0, NULL, NULL) == 418);
	snprintf(url, sizeof(url), "http://%s:%u/nostatus", host, httpd_port(h));
	CHECK(request(url, "GET", NULL, 0, NULL, &out) == 500);
	CHECK(strstr(out, "\"kind\":\"Status\"") != NULL);
	free(out);
	snprintf(url, sizeof(url), "http://%s:%u/a", host, httpd_port(h));
	httpd_stop(h);
	CHECK(request(url, "GET", NULL, 0, NULL, NULL) == 0); /* stopped: nothing listens */
}

static void test_port_in_use(void)
{
	int calls = 0;
	struct httpd_options opt = {.addr = "127.0.0.1:0", .handler = echo, .ctx = &calls};
	struct httpd *a = NULL, *b = NULL;
	char err[256], addr[64];

	CHECK(httpd_start(&opt, &a, err, sizeof(err)) == 0);
	if (!a)
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", httpd_port(a));
	opt.addr = addr;
	CHECK(httpd_start(&opt, &b, err, sizeof(err)) < 0);
	CHECK(b == NULL);
	CHECK(strstr(err, addr) != NULL);
	httpd_stop(a);
	httpd_stop(b);
}

static void test_tls(void)
{
	char dir[] = "/tmp/httpd-test-XXXXXX", cmd[1024], cert[128], key[128], err[256], url[128],
	     junk[128];
	int calls = 0;
	struct httpd_options opt = {.addr = "127.0.0.1:0", .handler = echo, .ctx = &calls};
	struct httpd *h = NULL;
	char *out = NULL;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
		 "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s -out %s "
		 ">/dev/null 2>&1",
		 key, cert);
	CHECK(system(cmd) == 0);

	opt.tls_cert = cert;
	opt.tls_key = key;
	CHECK(httpd_start(&opt, &h, err, sizeof(err)) == 0);
	if (h) {
		snprintf(url, sizeof(url), "https://127.0.0.1:%u/secure", httpd_port(h));
		CHECK(request(url, "POST", "abc", 0, cert, &out) == 200);
		CHECK_STR(out, "POST /secure 3 hello 1");
		free(out);
		/* Verification is real: without our CA the handshake fails. */
		CHECK(request(url, "GET", NULL, 0, "/etc/ssl/certs/ca-certificates.crt", NULL) ==
		      0);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/secure", httpd_port(h));
		CHECK(request(url, "GET", NULL, 0, NULL, NULL) != 200);
		httpd_stop(h);
	} else {
		fprintf(stderr, "tls start: %s\n", err);
	}

	/* Start-up errors name the file. */
	snprintf(junk, sizeof(junk), "%s/missing.crt", dir);
	opt.tls_cert = junk;
	h = NULL;
	CHECK(httpd_start(&opt, &h, err, sizeof(err)) < 0 && !h);
	CHECK(strstr(err, "missing.crt") != NULL);
	snprintf(junk, sizeof(junk), "%s/notpem.key", dir);
	f = fopen(junk, "w");
	if (f) {
		fputs("hello\n", f);
		fclose(f);
	}
	opt.tls_cert = cert;
	opt.tls_key = junk;
	CHECK(httpd_start(&opt, &h, err, sizeof(err)) < 0 && !h);
	CHECK(strstr(err, "not PEM") != NULL);
	opt.tls_key = NULL;
	CHECK(httpd_start(&opt, &h, err, sizeof(err)) == -EINVAL && !h);
	/* A key that is PEM but not the certificate's. */
	snprintf(cmd, sizeof(cmd), "openssl genrsa -out %s/other.key 2048 >/dev/null 2>&1", dir);
	CHECK(system(cmd) == 0);
	snprintf(junk, sizeof(junk), "%s/other.key", dir);
	opt.tls_key = junk;
	CHECK(httpd_start(&opt, &h, err, sizeof(err)) < 0 && !h);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_parse_addr();
	test_plain("127.0.0.1:0", "127.0.0.1");
	test_plain("[::1]:0", "[::1]");
	test_port_in_use();
	test_tls();
	curl_global_cleanup();
	return TEST_SUMMARY();
}
