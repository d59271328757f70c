/* The metrics registry: exact Prometheus text for counters, gauges and
 * labels (escaped), idempotent registration, type clashes, concurrent
 * increments, the computed gauges, the health state, and /healthz and
 * /metrics served over HTTP. */
#include "httpd.h"
#include "metrics.h"
#include "testing.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_render_exact(void)
{
	struct metric *c, *g, *l1, *l2;
	char labels[128], *text = NULL;
	size_t len = 0;

	metrics_reset();
	c = metrics_counter("armorsmith_test_events_total", NULL, "Events seen.");
	g = metrics_gauge("armorsmith_test_queue", NULL, "Items waiting;\nback\\slash.");
	CHECK(metrics_labels(labels, sizeof(labels), "topic", "b", "partition", "1", NULL) == 0);
	l2 = metrics_gauge("armorsmith_test_offset", labels, "Next offset.");
	CHECK(metrics_labels(labels, sizeof(labels), "topic", "a", "partition", "0", NULL) == 0);
	l1 = metrics_gauge("armorsmith_test_offset", labels, "ignored: the first help stays");
	CHECK(c && g && l1 && l2);
	metric_add(c, 5);
	metric_inc(c);
	metric_set(g, -3);
	metric_set(l1, 42);
	metric_set(l2, 7);
	CHECK(metric_value(c) == 6 && metric_value(g) == -3);
	CHECK(metrics_render(&text, &len) == 0);
	CHECK_STR(text, "# HELP armorsmith_test_events_total Events seen.\n"
			"# TYPE armorsmith_test_events_total counter\n"
			"armorsmith_test_events_total 6\n"
			"# HELP armorsmith_test_offset Next offset.\n"
			"# TYPE armorsmith_test_offset gauge\n"
			"armorsmith_test_offset{topic=\"a\",partition=\"0\"} 42\n"
			"armorsmith_test_offset{topic=\"b\",partition=\"1\"} 7\n"
			"# HELP armorsmith_test_queue Items waiting;\\nback\\\\slash.\n"
			"# TYPE armorsmith_test_queue gauge\n"
			"armorsmith_test_queue -3\n");
	CHECK(text && len == strlen(text));
	free(text);
}

static void test_registration(void)
{
	struct metric *a, *b;
	char labels[64];

	metrics_reset();
	a = metrics_counter("armorsmith_test_x_total", "k=\"v\"", "X.");
	b = metrics_counter("armorsmith_test_x_total", "k=\"v\"", "X.");
	CHECK(a && a == b);
	CHECK(metrics_counter("armorsmith_test_x_total", "k=\"w\"", "X.") != a);
	CHECK(metrics_gauge("armorsmith_test_x_total", NULL, "clash") == NULL);
	CHECK(metrics_counter("9starts_with_digit", NULL, "bad") == NULL);
	CHECK(metrics_counter("has-dash", NULL, "bad") == NULL);
	CHECK(metrics_counter("", NULL, "bad") == NULL);
	CHECK(metrics_counter("armorsmith_test_y", "a=\"1\n\"", "bad") == NULL);
	/* NULL series are accepted by every update. */
	metric_inc(NULL);
	metric_add(NULL, 3);
	metric_set(NULL, 3);
	CHECK(metric_value(NULL) == 0);

	CHECK(metrics_labels(labels, sizeof(labels), "path", "a\"b\\c\nd", NULL) == 0);
	CHECK_STR(labels, "path=\"a\\\"b\\\\c\\nd\"");
	CHECK(metrics_labels(labels, 8, "path", "toolongvalue", NULL) == -ENOSPC);
	CHECK_STR(labels, "");
	CHECK(metrics_labels(labels, sizeof(labels), NULL) == 0);
	CHECK_STR(labels, "");
}

static struct metric *shared;

static void *bump(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		metric_inc(shared);
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t t[4];

	metrics_reset();
	shared = metrics_counter("armorsmith_test_bumps_total", NULL, "Bumps.");
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, bump, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(metric_value(shared) == 400000);
}

static void test_computed_and_health(void)
{
	char *text = NULL, msg[128], *p;
	size_t len;
	long rss;

	metrics_reset();
	CHECK(metrics_init("test", 1) == 0);
	CHECK(metrics_health_check(msg, sizeof(msg)) == 0);
	CHECK_STR(msg, "starting");
	metrics_health_tick();
	CHECK(metrics_health_check(msg, sizeof(msg)) == 1);
	CHECK_STR(msg, "ok");
	metrics_health_problem("postgresql: %s", "connection refused");
	CHECK(metrics_health_check(msg, sizeof(msg)) == 0);
	CHECK_STR(msg, "postgresql: connection refused");

	CHECK(metrics_render(&text, &len) == 0);
	CHECK(text && strstr(text, "# TYPE armorsmith_test_resident_memory_bytes gauge\n"));
	CHECK(text && strstr(text, "\narmorsmith_test_healthy 0\n"));
	CHECK(text && strstr(text, "\narmorsmith_test_start_time_seconds 1"));
	p = text ? strstr(text, "\narmorsmith_test_resident_memory_bytes ") : NULL;
	rss = p ? strtol(p + strlen("\narmorsmith_test_resident_memory_bytes "), NULL, 10) : 0;
	CHECK(rss > 100 * 1024 && rss < 1L << 34);
	free(text);

	metrics_health_ok();
	CHECK(metrics_health_check(msg, sizeof(msg)) == 1);
	usleep(1200 * 1000); /* the 1 s staleness bound passes */
	CHECK(metrics_health_check(msg, sizeof(msg)) == 0);
	CHECK(strstr(msg, "main loop has not run for") != NULL);
	metrics_health_tick();
	CHECK(metrics_health_check(msg, sizeof(msg)) == 1);
}

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

static long get(unsigned port, const char *method, const char *path, char **out, char **ctype)
{
	CURL *h = curl_easy_init();
	struct buf b = {0};
	char url[128];
	long code = 0;
	char *ct = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(h) == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	}
	if (ctype)
		*ctype = ct ? strdup(ct) : NULL;
	curl_easy_cleanup(h);
	*out = b.data ? b.data : strdup("");
	return code;
}

static void test_serve(void)
{
	struct httpd *h = NULL;
	char err[256], *out, *ct = NULL;
	unsigned port;

	metrics_reset();
	metrics_init("served", 30);
	metric_add(metrics_counter("armorsmith_served_things_total", NULL, "Things."), 9);
	CHECK(metrics_serve("127.0.0.1:0", &h, err, sizeof(err)) == 0);
	if (!h) {
		fprintf(stderr, "metrics_serve: %s\n", err);
		return;
	}
	port = httpd_port(h);
	CHECK(get(port, "GET", "/healthz", &out, NULL) == 503);
	CHECK_STR(out, "starting\n");
	free(out);
	metrics_health_tick();
	CHECK(get(port, "GET", "/healthz", &out, NULL) == 200);
	CHECK_STR(out, "ok\n");
	free(out);
	metrics_health_problem("kafka: broker down");
	CHECK(get(port, "GET", "/healthz", &out, NULL) == 503);
	CHECK_STR(out, "kafka: broker down\n");
	free(out);
	CHECK(get(port, "GET", "/metrics", &out, &ct) == 200);
	CHECK(strstr(out, "\narmorsmith_served_things_total 9\n") != NULL);
	CHECK(strstr(out, "\narmorsmith_served_healthy 0\n") != NULL);
	CHECK_STR(ct, "text/plain; version=0.0.4; charset=utf-8");
	free(ct);
	free(out);
	CHECK(get(port, "POST", "/metrics", &out, NULL) == 405);
	free(out);
	CHECK(get(port, "GET", "/other", &out, NULL) == 404);
	free(out);
	httpd_stop(h);
	CHECK(metrics_serve("nonsense", &h, err, sizeof(err)) < 0);
	CHECK(strstr(err, "nonsense") != NULL);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_render_exact();
	test_registration();
	test_concurrent();
	test_computed_and_health();
	test_serve();
	metrics_reset();
	curl_global_cleanup();
	return TEST_SUMMARY();
}
