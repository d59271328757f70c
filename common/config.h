/* Where the services are and how the programs behave. Sources in increasing
 * precedence: built-in defaults, a YAML file (--config), environment
 * variables, command-line flags (applied by each program). */
#ifndef ARMORSMITH_CONFIG_H
#define ARMORSMITH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct armorsmith_config {
	char *kafka_brokers;  /* kafka.brokers, ARMORSMITH_KAFKA_BROKERS */
	char *pg_dsn;	      /* postgres.dsn, ARMORSMITH_PG_DSN */
	char *node_name;      /* node.name, ARMORSMITH_NODE_NAME; default: hostname */
	char *audit_log;      /* probe.audit_log, ARMORSMITH_AUDIT_LOG; NULL: search */
	char *state_dir;      /* probe.state_dir, ARMORSMITH_PROBE_STATE_DIR */
	char *sink_dir;	      /* builder.sink_dir, ARMORSMITH_SINK_DIR */
	char *consumer_group; /* merger.group */
	int64_t grace_ns;     /* builder.grace: wait for nodes that joined but never reported */
	/* store.history_retention, ARMORSMITH_HISTORY_RETENTION: whole days of
	 * event history older than this are dropped by the mergers; 0 keeps all. */
	int64_t history_retention_ns;
	/* Kubernetes (issue 5). */
	char *kube_enabled;    /* kube.enabled, ARMORSMITH_KUBE: "true" or "false" (default) */
	char *kube_namespace;  /* kube.namespace, ARMORSMITH_NAMESPACE: install namespace */
	char *match_label;     /* kube.match_label, ARMORSMITH_MATCH_LABEL; "" = off */
	char *metrics_addr;    /* http.metrics_addr, ARMORSMITH_METRICS_ADDR: /healthz, /metrics */
	char *status_addr;     /* status.addr, ARMORSMITH_STATUS_ADDR: the export/import API */
	char *status_tls_cert; /* status.tls_cert, ARMORSMITH_STATUS_TLS_CERT (PEM file) */
	char *status_tls_key;  /* status.tls_key, ARMORSMITH_STATUS_TLS_KEY (PEM file) */
};

#define CONFIG_DEFAULT_NAMESPACE "varmor"
#define CONFIG_DEFAULT_MATCH_LABEL "sandbox.varmor.org/enable"
#define CONFIG_DEFAULT_STATUS_ADDR "0.0.0.0:8080"

/* Whether kube.enabled says yes ("true", "1", "yes"). */
int config_kube_enabled(const struct armorsmith_config *cfg);

#define CONFIG_DEFAULT_BROKERS "127.0.0.1:19092"
#define CONFIG_DEFAULT_PG_DSN "host=127.0.0.1 port=15432 dbname=armorsmith user=armorsmith"

int config_init_defaults(struct armorsmith_config *cfg);
/* Reads a YAML file; unknown keys are errors so typos do not go unnoticed.
 * On failure err holds a message naming the file, line and key. */
int config_load_file(struct armorsmith_config *cfg, const char *path, char *err, size_t errlen);
int config_apply_env(struct armorsmith_config *cfg, char *err, size_t errlen);
/* The file (when path is not NULL), then the environment, over cfg. */
int config_load_sources(struct armorsmith_config *cfg, const char *path, char *err, size_t errlen);
/* Replaces *slot with a copy of value. */
int config_set(char **slot, const char *value);
void config_free(struct armorsmith_config *cfg);

#endif
