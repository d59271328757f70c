#include "config.h"
#include "timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

int config_set(char **slot, const char *value)
{
	char *copy = value ? strdup(value) : NULL;

	if (value && !copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

int config_init_defaults(struct armorsmith_config *cfg)
{
	char host[256] = "localhost";

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(host, sizeof(host) - 1) != 0)
		strcpy(host, "localhost");
	if (config_set(&cfg->kafka_brokers, CONFIG_DEFAULT_BROKERS) ||
	    config_set(&cfg->pg_dsn, CONFIG_DEFAULT_PG_DSN) || config_set(&cfg->node_name, host) ||
	    config_set(&cfg->state_dir, "/var/lib/armorsmith") ||
	    config_set(&cfg->sink_dir, "/var/lib/armorsmith/models") ||
	    config_set(&cfg->consumer_group, "armorsmith-merger") ||
	    config_set(&cfg->kube_enabled, "false") ||
	    config_set(&cfg->kube_namespace, CONFIG_DEFAULT_NAMESPACE) ||
	    config_set(&cfg->match_label, CONFIG_DEFAULT_MATCH_LABEL) ||
	    config_set(&cfg->status_addr, CONFIG_DEFAULT_STATUS_ADDR))
		return -ENOMEM;
	cfg->grace_ns = 30 * NSEC_PER_SEC;
	return 0;
}

struct config_key {
	const char *section;
	const char *key;
	size_t offset; /* of a char * field, or of an int64_t for a duration */
	bool duration; /* the value is a duration (30s, 5m, 30d) in nanoseconds */
};

#define CFG_STR(sec, k, field)                                                                     \
	{                                                                                          \
		sec, k, offsetof(struct armorsmith_config, field), false                           \
	}
#define CFG_DURATION(sec, k, field)                                                                \
	{                                                                                          \
		sec, k, offsetof(struct armorsmith_config, field), true                            \
	}

static const struct config_key config_keys[] = {
    CFG_STR("kafka", "brokers", kafka_brokers),
    CFG_STR("postgres", "dsn", pg_dsn),
    CFG_STR("node", "name", node_name),
    CFG_STR("probe", "audit_log", audit_log),
    CFG_STR("probe", "state_dir", state_dir),
    CFG_STR("builder", "sink_dir", sink_dir),
    CFG_STR("merger", "group", consumer_group),
    CFG_DURATION("builder", "grace", grace_ns),
    CFG_STR("kube", "enabled", kube_enabled),
    CFG_STR("kube", "namespace", kube_namespace),
    CFG_STR("kube", "match_label", match_label),
    CFG_STR("http", "metrics_addr", metrics_addr),
    CFG_STR("status", "addr", status_addr),
    CFG_STR("status", "tls_cert", status_tls_cert),
    CFG_STR("status", "tls_key", status_tls_key),
    CFG_DURATION("store", "history_retention", history_retention_ns),
};

static int config_assign(struct armorsmith_config *cfg, const char *section, const char *key,
			 const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		const struct config_key *k = &config_keys[i];
		if (strcmp(k->section, section) || strcmp(k->key, key))
			continue;
		if (k->duration) {
			if (time_parse_duration(value, (int64_t *)((char *)cfg + k->offset)) < 0) {
				snprintf(err, errlen, "invalid duration for %s.%s: '%s'", section,
					 key, value);
				return -EINVAL;
			}
			return 0;
		}
		return config_set((char **)((char *)cfg + k->offset), value);
	}
	snprintf(err, errlen, "unknown key %s.%s", section, key);
	return -EINVAL;
}

static const char *scalar_of(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int config_walk(struct armorsmith_config *cfg, yaml_document_t *doc, char *err,
		       size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_pair_t *p, *q;

	if (!root)
		return 0; /* an empty file configures nothing */
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "top level must be a mapping of sections");
		return -EINVAL;
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		const char *section = scalar_of(kn);

		if (!section || !vn || vn->type != YAML_MAPPING_NODE) {
			snprintf(err, errlen, "line %zu: section '%s' must be a mapping",
				 kn ? kn->start_mark.line + 1 : 0, section ? section : "?");
			return -EINVAL;
		}
		for (q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top; q++) {
			yaml_node_t *k2 = yaml_document_get_node(doc, q->key);
			yaml_node_t *v2 = yaml_document_get_node(doc, q->value);
			const char *key = scalar_of(k2), *value = scalar_of(v2);
			int rc;

			if (!key || !value) {
				snprintf(err, errlen, "line %zu: %s.%s must be a scalar",
					 k2 ? k2->start_mark.line + 1 : 0, section,
					 key ? key : "?");
				return -EINVAL;
			}
			rc = config_assign(cfg, section, key, value, err, errlen);
			if (rc < 0) {
				size_t used = strlen(err);
				snprintf(err + used, errlen - used, " (line %zu)",
					 k2->start_mark.line + 1);
				return rc;
			}
		}
	}
	return 0;
}

int config_load_file(struct armorsmith_config *cfg, const char *path, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f;
	int rc = 0;
	char inner[256] = "";

	f = fopen(path, "rb");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot open config %s: %s", path, strerror(errno));
		return rc;
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = -ENOMEM;
		goto out_file;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "invalid yaml in %s line %zu: %s", path,
			 parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
		rc = -EINVAL;
		goto out_parser;
	}
	rc = config_walk(cfg, &doc, inner, sizeof(inner));
	if (rc < 0)
		snprintf(err, errlen, "config %s: %s", path, inner);
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
out_file:
	fclose(f);
	return rc;
}

int config_apply_env(struct armorsmith_config *cfg, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t offset;
	} vars[] = {
	    {"ARMORSMITH_KAFKA_BROKERS", offsetof(struct armorsmith_config, kafka_brokers)},
	    {"ARMORSMITH_PG_DSN", offsetof(struct armorsmith_config, pg_dsn)},
	    {"ARMORSMITH_NODE_NAME", offsetof(struct armorsmith_config, node_name)},
	    {"ARMORSMITH_AUDIT_LOG", offsetof(struct armorsmith_config, audit_log)},
	    {"ARMORSMITH_PROBE_STATE_DIR", offsetof(struct armorsmith_config, state_dir)},
	    {"ARMORSMITH_SINK_DIR", offsetof(struct armorsmith_config, sink_dir)},
	    {"ARMORSMITH_KUBE", offsetof(struct armorsmith_config, kube_enabled)},
	    {"ARMORSMITH_NAMESPACE", offsetof(struct armorsmith_config, kube_namespace)},
	    {"ARMORSMITH_METRICS_ADDR", offsetof(struct armorsmith_config, metrics_addr)},
	    {"ARMORSMITH_STATUS_ADDR", offsetof(struct armorsmith_config, status_addr)},
	    {"ARMORSMITH_STATUS_TLS_CERT", offsetof(struct armorsmith_config, status_tls_cert)},
	    {"ARMORSMITH_STATUS_TLS_KEY", offsetof(struct armorsmith_config, status_tls_key)},
	};
	/* Set but empty turns label matching off, so it is read apart. */
	const char *label = getenv("ARMORSMITH_MATCH_LABEL");
	static const struct {
		const char *name;
		size_t offset;
	} durations[] = {
	    {"ARMORSMITH_GRACE", offsetof(struct armorsmith_config, grace_ns)},
	    {"ARMORSMITH_HISTORY_RETENTION",
	     offsetof(struct armorsmith_config, history_retention_ns)},
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i].name);
		if (v && *v && config_set((char **)((char *)cfg + vars[i].offset), v))
			return -ENOMEM;
	}
	if (label && config_set(&cfg->match_label, label))
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		const char *v = getenv(durations[i].name);
		if (v && *v &&
		    time_parse_duration(v, (int64_t *)((char *)cfg + durations[i].offset)) < 0) {
			snprintf(err, errlen, "invalid duration in %s: '%s'", durations[i].name, v);
			return -EINVAL;
		}
	}
	return 0;
}

void config_free(struct armorsmith_config *cfg)
{
	free(cfg->kafka_brokers);
	free(cfg->pg_dsn);
	free(cfg->node_name);
	free(cfg->audit_log);
	free(cfg->state_dir);
	free(cfg->sink_dir);
	free(cfg->consumer_group);
	free(cfg->kube_enabled);
	free(cfg->kube_namespace);
	free(cfg->match_label);
	free(cfg->metrics_addr);
	free(cfg->status_addr);
	free(cfg->status_tls_cert);
	free(cfg->status_tls_key);
	memset(cfg, 0, sizeof(*cfg));
}

int config_kube_enabled(const struct armorsmith_config *cfg)
{
	const char *v = cfg->kube_enabled;

	return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"));
}

int config_load_sources(struct armorsmith_config *cfg, const char *path, char *err, size_t errlen)
{
	int rc = path ? config_load_file(cfg, path, err, errlen) : 0;

	return rc < 0 ? rc : config_apply_env(cfg, err, errlen);
}
