/* A process-wide registry of counters and gauges rendered in Prometheus text
 * format 0.0.4, the liveness state behind /healthz, and the small HTTP server
 * that serves both. Updates are lock-free atomics, so the main loop never
 * waits for a scrape. */
#ifndef ARMORSMITH_METRICS_H
#define ARMORSMITH_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct httpd;
struct metric; /* one series: a name and a label set */

/*
 * Finds or creates the series name{labels}. labels is what goes between the
 * braces, e.g. `topic="a",partition="0"` (make it with metrics_labels()), or
 * NULL. help is used when the name is new. Returns NULL when out of memory,
 * when name or labels are malformed, or when the name already exists with
 * the other type; every update function accepts NULL and does nothing, so
 * callers need not check. Series live until metrics_reset().
 */
struct metric *metrics_counter(const char *name, const char *labels, const char *help);
struct metric *metrics_gauge(const char *name, const char *labels, const char *help);

void metric_inc(struct metric *m);
void metric_add(struct metric *m, uint64_t n);
/* Gauges; also counters mirrored from a cumulative source (never lower it). */
void metric_set(struct metric *m, int64_t v);
int64_t metric_value(const struct metric *m);

/* Formats key="value" pairs (value escaped), NULL-terminated argument list:
 * metrics_labels(buf, sizeof(buf), "topic", t, "partition", p, NULL).
 * 0, or -ENOSPC when buf is too small. */
int metrics_labels(char *buf, size_t len, ...) __attribute__((sentinel));

/* Names this program (armorsmith_<program>_...) and registers the gauges the
 * registry computes itself: resident memory (from /proc/self/statm), start
 * time, and healthy (1/0, see below). stale_after_s: /healthz fails when the
 * main loop has not called metrics_health_tick() for this long. */
int metrics_init(const char *program, unsigned stale_after_s);

/* The whole registry, families sorted by name and series by labels. */
int metrics_render(char **out, size_t *len);

/* Liveness. Until the first tick the program is "starting" (unhealthy). */
void metrics_health_tick(void);
/* Marks the program unhealthy with a reason (e.g. "postgresql: connection
 * refused") until metrics_health_ok(). */
void metrics_health_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void metrics_health_ok(void);
/* 1 when healthy; else 0 with the reason in msg. */
int metrics_health_check(char *msg, size_t len);

/* Serves GET /healthz (200 "ok", or 503 with the reason) and GET /metrics
 * on addr (HOST:PORT) in its own threads. */
int metrics_serve(const char *addr, struct httpd **out, char *err, size_t errlen);

/* Frees every series (tests; programs may simply exit). */
void metrics_reset(void);

#endif
