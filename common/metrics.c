#include "metrics.h"
#include "httpd.h"
#include "timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

/* Gauges whose value is computed when rendered. */
enum metric_source { SOURCE_STORED, SOURCE_RSS, SOURCE_START_TIME, SOURCE_HEALTHY };

struct metric {
	struct metric *next;
	char *labels; /* "" for none */
	_Atomic uint64_t value;
};

struct family {
	struct family *next;
	char *name;
	char *help;
	enum metric_type type;
	enum metric_source source;
	struct metric *series;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct family *families;
static int64_t start_time_ns;

static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t last_tick_ns; /* CLOCK_MONOTONIC; 0: never ticked */
static int64_t stale_after_ns = 60 * NSEC_PER_SEC;
static char health_problem[256];

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static bool valid_name(const char *name)
{
	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			return false;
	return true;
}

static struct metric *lookup(const char *name, const char *labels, const char *help,
			     enum metric_type type, enum metric_source source)
{
	struct family *f;
	struct metric *m = NULL;

	if (!labels)
		labels = "";
	if (!valid_name(name) || strchr(labels, '\n'))
		return NULL;
	pthread_mutex_lock(&reg_lock);
	for (f = families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f && f->type != type)
		goto out;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			goto out;
		f->name = strdup(name);
		f->help = strdup(help ? help : "");
		if (!f->name || !f->help) {
			free(f->name);
			free(f->help);
			free(f);
			goto out;
		}
		f->type = type;
		f->source = source;
		f->next = families;
		families = f;
	}
	for (m = f->series; m; m = m->next)
		if (strcmp(m->labels, labels) == 0)
			goto out;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto out;
	m->labels = strdup(labels);
	if (!m->labels) {
		free(m);
		m = NULL;
		goto out;
	}
	m->next = f->series;
	f->series = m;
out:
	pthread_mutex_unlock(&reg_lock);
	return m;
}

struct metric *metrics_counter(const char *name, const char *labels, const char *help)
{
	return lookup(name, labels, help, METRIC_COUNTER, SOURCE_STORED);
}

struct metric *metrics_gauge(const char *name, const char *labels, const char *help)
{
	return lookup(name, labels, help, METRIC_GAUGE, SOURCE_STORED);
}

void metric_inc(struct metric *m)
{
	metric_add(m, 1);
}

void metric_add(struct metric *m, uint64_t n)
{
	if (m)
		atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void metric_set(struct metric *m, int64_t v)
{
	if (m)
		atomic_store_explicit(&m->value, (uint64_t)v, memory_order_relaxed);
}

int64_t metric_value(const struct metric *m)
{
	return m ? (int64_t)atomic_load_explicit(&((struct metric *)m)->value, memory_order_relaxed)
		 : 0;
}

int metrics_labels(char *buf, size_t len, ...)
{
	va_list ap;
	size_t o = 0;
	const char *k;
	int rc = 0;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	va_start(ap, len);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		int n = snprintf(buf + o, len - o, "%s%s=\"", o ? "," : "", k);
		if (n < 0 || (size_t)n >= len - o) {
			rc = -ENOSPC;
			break;
		}
		o += (size_t)n;
		for (const char *p = v ? v : ""; *p; p++) {
			const char *esc = *p == '\\'   ? "\\\\"
					  : *p == '"'  ? "\\\""
					  : *p == '\n' ? "\\n"
						       : NULL;
			size_t need = esc ? 2 : 1;
			if (o + need + 1 >= len) {
				rc = -ENOSPC;
				break;
			}
			if (esc) {
				memcpy(buf + o, esc, 2);
			} else {
				buf[o] = *p;
			}
			o += need;
		}
		if (rc || o + 2 > len) {
			rc = -ENOSPC;
			break;
		}
		buf[o++] = '"';
		buf[o] = '\0';
	}
	va_end(ap);
	if (rc)
		buf[0] = '\0';
	return rc;
}

static int64_t read_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size, resident;
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2)
		return -1;
	return (int64_t)(resident * (unsigned long long)sysconf(_SC_PAGESIZE));
}

int metrics_init(const char *program, unsigned stale_after_s)
{
	char name[160];
	struct metric *m;

	if (stale_after_s)
		stale_after_ns = (int64_t)stale_after_s * NSEC_PER_SEC;
	start_time_ns = time_now_ns();
	snprintf(name, sizeof(name), "armorsmith_%s_resident_memory_bytes", program);
	m = lookup(name, NULL, "Resident set size of the process, from /proc/self/statm.",
		   METRIC_GAUGE, SOURCE_RSS);
	snprintf(name, sizeof(name), "armorsmith_%s_start_time_seconds", program);
	m = m ? lookup(name, NULL, "When the process started, in seconds since the epoch.",
		       METRIC_GAUGE, SOURCE_START_TIME)
	      : NULL;
	snprintf(name, sizeof(name), "armorsmith_%s_healthy", program);
	m = m ? lookup(name, NULL, "1 when /healthz answers 200, else 0.", METRIC_GAUGE,
		       SOURCE_HEALTHY)
	      : NULL;
	return m ? 0 : -EINVAL;
}

static void escape_help(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static int cmp_family(const void *a, const void *b)
{
	return strcmp((*(struct family *const *)a)->name, (*(struct family *const *)b)->name);
}

static int cmp_series(const void *a, const void *b)
{
	return strcmp((*(struct metric *const *)a)->labels, (*(struct metric *const *)b)->labels);
}

static void render_family(FILE *out, struct family *f)
{
	struct metric **ser = NULL;
	size_t n = 0;
	char msg[8];

	fprintf(out, "# HELP %s ", f->name);
	escape_help(out, f->help);
	fprintf(out, "\n# TYPE %s %s\n", f->name, f->type == METRIC_COUNTER ? "counter" : "gauge");
	switch (f->source) {
	case SOURCE_RSS:
		fprintf(out, "%s %" PRId64 "\n", f->name, read_rss_bytes());
		return;
	case SOURCE_START_TIME:
		fprintf(out, "%s %" PRId64 ".%03" PRId64 "\n", f->name,
			start_time_ns / NSEC_PER_SEC, start_time_ns % NSEC_PER_SEC / NSEC_PER_MSEC);
		return;
	case SOURCE_HEALTHY:
		fprintf(out, "%s %d\n", f->name, metrics_health_check(msg, sizeof(msg)));
		return;
	case SOURCE_STORED:
		break;
	}
	for (struct metric *m = f->series; m; m = m->next)
		n++;
	ser = calloc(n ? n : 1, sizeof(*ser));
	if (!ser)
		return;
	n = 0;
	for (struct metric *m = f->series; m; m = m->next)
		ser[n++] = m;
	qsort(ser, n, sizeof(*ser), cmp_series);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = atomic_load_explicit(&ser[i]->value, memory_order_relaxed);
		fprintf(out, "%s%s%s%s ", f->name, *ser[i]->labels ? "{" : "", ser[i]->labels,
			*ser[i]->labels ? "}" : "");
		if (f->type == METRIC_COUNTER)
			fprintf(out, "%" PRIu64 "\n", v);
		else
			fprintf(out, "%" PRId64 "\n", (int64_t)v);
	}
	free(ser);
}

int metrics_render(char **out, size_t *len)
{
	struct family **fams = NULL;
	size_t n = 0;
	FILE *f;
	int rc = 0;

	*out = NULL;
	*len = 0;
	f = open_memstream(out, len);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&reg_lock);
	for (struct family *fa = families; fa; fa = fa->next)
		n++;
	fams = calloc(n ? n : 1, sizeof(*fams));
	if (fams) {
		n = 0;
		for (struct family *fa = families; fa; fa = fa->next)
			fams[n++] = fa;
		qsort(fams, n, sizeof(*fams), cmp_family);
		for (size_t i = 0; i < n; i++)
			render_family(f, fams[i]);
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&reg_lock);
	free(fams);
	if (fclose(f) != 0 && !rc)
		rc = -ENOMEM;
	if (rc) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return rc;
}

void metrics_health_tick(void)
{
	atomic_store(&last_tick_ns, monotonic_ns());
}

void metrics_health_problem(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&health_lock);
	va_start(ap, fmt);
	vsnprintf(health_problem, sizeof(health_problem), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&health_lock);
}

void metrics_health_ok(void)
{
	pthread_mutex_lock(&health_lock);
	health_problem[0] = '\0';
	pthread_mutex_unlock(&health_lock);
}

int metrics_health_check(char *msg, size_t len)
{
	int64_t last = atomic_load(&last_tick_ns);
	int healthy = 0;

	if (!last) {
		snprintf(msg, len, "starting");
	} else if (monotonic_ns() - last > stale_after_ns) {
		snprintf(msg, len, "main loop has not run for %" PRId64 "s",
			 (monotonic_ns() - last) / NSEC_PER_SEC);
	} else {
		pthread_mutex_lock(&health_lock);
		if (health_problem[0])
			snprintf(msg, len, "%s", health_problem);
		else
			healthy = 1;
		pthread_mutex_unlock(&health_lock);
	}
	if (healthy)
		snprintf(msg, len, "ok");
	return healthy;
}

static void serve(const struct httpd_request *req, struct httpd_response *resp, void *ctx)
{
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	char msg[300];

	(void)ctx;
	if (strcmp(req->path, "/healthz") != 0 && strcmp(req->path, "/metrics") != 0) {
		httpd_respond(resp, 404, "text/plain; charset=utf-8", "not found\n");
		return;
	}
	if (!get) {
		httpd_respond(resp, 405, "text/plain; charset=utf-8", "method not allowed\n");
		httpd_add_header(resp, "Allow", "GET, HEAD");
		return;
	}
	if (strcmp(req->path, "/healthz") == 0) {
		int ok = metrics_health_check(msg, sizeof(msg) - 1);
		strcat(msg, "\n");
		httpd_respond(resp, ok ? 200 : 503, "text/plain; charset=utf-8", msg);
		return;
	}
	{
		char *text;
		size_t len;
		if (metrics_render(&text, &len) < 0)
			return; /* 500 */
		free(resp->body);
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		resp->body = text;
		resp->body_len = len;
	}
}

int metrics_serve(const char *addr, struct httpd **out, char *err, size_t errlen)
{
	struct httpd_options opt = {
	    .addr = addr, .max_body = 4096, .max_connections = 16, .handler = serve};

	return httpd_start(&opt, out, err, errlen);
}

void metrics_reset(void)
{
	pthread_mutex_lock(&reg_lock);
	while (families) {
		struct family *f = families;
		families = f->next;
		while (f->series) {
			struct metric *m = f->series;
			f->series = m->next;
			free(m->labels);
			free(m);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	pthread_mutex_unlock(&reg_lock);
	atomic_store(&last_tick_ns, 0);
	metrics_health_ok();
}
