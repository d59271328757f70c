#include "config.h"
#include "testing.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/armorsmith-config-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	if (write(fd, text, strlen(text)) < 0)
		path[0] = '\0';
	close(fd);
	return path;
}

static void test_durations(void)
{
	int64_t ns = 0;

	CHECK(time_parse_duration("30s", &ns) == 0 && ns == 30 * NSEC_PER_SEC);
	CHECK(time_parse_duration("5m", &ns) == 0 && ns == 300 * NSEC_PER_SEC);
	CHECK(time_parse_duration("250ms", &ns) == 0 && ns == 250 * NSEC_PER_MSEC);
	CHECK(time_parse_duration("2", &ns) == 0 && ns == 2 * NSEC_PER_SEC);
	CHECK(time_parse_duration("-1s", &ns) < 0);
	CHECK(time_parse_duration("5 minutes", &ns) < 0);
	CHECK(time_parse_duration("", &ns) < 0);
	CHECK(time_parse_duration("1e300h", &ns) < 0);
}

static void test_file_and_env_precedence(void)
{
	struct armorsmith_config cfg;
	char err[256] = "";
	char *path = write_tmp("kafka:\n  brokers: 10.1.1.1:9092\npostgres:\n  dsn: \"host=db\"\n"
			       "builder:\n  grace: 5s\n");

	CHECK(config_init_defaults(&cfg) == 0);
	CHECK_STR(cfg.kafka_brokers, CONFIG_DEFAULT_BROKERS);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) == 0);
	CHECK_STR(cfg.kafka_brokers, "10.1.1.1:9092");
	CHECK_STR(cfg.pg_dsn, "host=db");
	CHECK(cfg.grace_ns == 5 * NSEC_PER_SEC);
	setenv("ARMORSMITH_KAFKA_BROKERS", "127.0.0.9:1", 1);
	CHECK(config_apply_env(&cfg, err, sizeof(err)) == 0);
	CHECK_STR(cfg.kafka_brokers, "127.0.0.9:1");
	unsetenv("ARMORSMITH_KAFKA_BROKERS");
	config_free(&cfg);
	unlink(path);
}

static void test_bad_files_give_clear_errors(void)
{
	struct armorsmith_config cfg;
	char err[256] = "";
	char *path;

	config_init_defaults(&cfg);
	path = write_tmp("kafka:\n  borkers: x\n");
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) < 0);
	CHECK(strstr(err, "unknown key kafka.borkers") != NULL);
	CHECK(strstr(err, "line 2") != NULL);
	unlink(path);

	path = write_tmp("kafka: [unclosed\n");
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) < 0);
	CHECK(strstr(err, "invalid yaml") != NULL);
	unlink(path);

	path = write_tmp("builder:\n  grace: soon\n");
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) < 0);
	CHECK(strstr(err, "invalid duration") != NULL);
	unlink(path);

	CHECK(config_load_file(&cfg, "/nonexistent/armorsmith.yaml", err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/armorsmith.yaml") != NULL);
	config_free(&cfg);
}

static void test_kube_keys(void)
{
	struct armorsmith_config cfg;
	char err[256] = "";
	char *path = write_tmp("kube:\n  enabled: \"true\"\n  namespace: armor\n"
			       "  match_label: example.com/model\nhttp:\n  metrics_addr: :9999\n");

	CHECK(config_init_defaults(&cfg) == 0);
	CHECK(!config_kube_enabled(&cfg));
	CHECK_STR(cfg.kube_namespace, CONFIG_DEFAULT_NAMESPACE);
	CHECK_STR(cfg.match_label, CONFIG_DEFAULT_MATCH_LABEL);
	CHECK_STR(cfg.status_addr, CONFIG_DEFAULT_STATUS_ADDR);
	CHECK(config_load_file(&cfg, path, err, sizeof(err)) == 0);
	CHECK(config_kube_enabled(&cfg));
	CHECK_STR(cfg.kube_namespace, "armor");
	CHECK_STR(cfg.match_label, "example.com/model");
	CHECK_STR(cfg.metrics_addr, ":9999");
	/* An empty variable is a value here: it turns label matching off. */
	setenv("ARMORSMITH_MATCH_LABEL", "", 1);
	setenv("ARMORSMITH_KUBE", "false", 1);
	CHECK(config_apply_env(&cfg, err, sizeof(err)) == 0);
	CHECK_STR(cfg.match_label, "");
	CHECK(!config_kube_enabled(&cfg));
	unsetenv("ARMORSMITH_MATCH_LABEL");
	unsetenv("ARMORSMITH_KUBE");
	config_free(&cfg);
	unlink(path);
}

int main(void)
{
	test_kube_keys();
	test_durations();
	test_file_and_env_precedence();
	test_bad_files_give_clear_errors();
	return TEST_SUMMARY();
}
