/* armorsmith-builder: notices when a modeling run is complete (deadline passed
 * and every node that joined has reported, or the grace period ran out),
 * generates the profiles from the merged behavior, writes the
 * ArmorProfileModel through its sink, and publishes ProfileBuilt. */
#include "apm_model.h"
#include "profile_build.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "store.h"
#include "strset.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t builder_stop;

struct builder {
	struct armorsmith_config cfg;
	struct store *store;
	rd_kafka_t *producer;
	struct strset failed; /* runs whose build failed: logged once, not retried */
	bool once;
};

static void on_signal(int sig)
{
	(void)sig;
	builder_stop = 1;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith-builder [OPTIONS]\n"
	    "\n"
	    "Watches the behavior store for modeling runs whose deadline has passed and whose\n"
	    "nodes have all reported (or whose grace period ran out: missing nodes become\n"
	    "conditions), generates the AppArmor and seccomp profiles, writes the\n"
	    "ArmorProfileModel to the file sink (SINK_DIR/NAMESPACE/NAME.json and .yaml),\n"
	    "publishes ProfileBuilt to armorsmith.profiles.v1 and marks the run Completed.\n"
	    "\n"
	    "  --config FILE      YAML configuration (kafka.brokers, postgres.dsn,\n"
	    "                     builder.sink_dir, builder.grace)\n"
	    "  --kafka BROKERS    Kafka bootstrap servers (env ARMORSMITH_KAFKA_BROKERS,\n"
	    "                     default %s)\n"
	    "  --pg CONNINFO      PostgreSQL connection string (env ARMORSMITH_PG_DSN)\n"
	    "  --sink-dir DIR     where ArmorProfileModel files are written\n"
	    "                     (env ARMORSMITH_SINK_DIR, default /var/lib/armorsmith/models)\n"
	    "  --grace D          how long to wait for nodes that joined but did not report\n"
	    "                     (env ARMORSMITH_GRACE, default 30s)\n"
	    "  --once             build what is due now, then exit\n"
	    "  -h, --help         this text\n",
	    CONFIG_DEFAULT_BROKERS);
}

static int mkdir_p(const char *dir)
{
	char tmp[4096];
	size_t len = strlen(dir);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int builder_sink_files(struct builder *b, const struct behavior_model *m, json_t *obj)
{
	char dir[4096], path[4096 + 320];
	int rc;

	/* Names were validated by the generators; still refuse path tricks. */
	if (strchr(m->namespace, '/') || strchr(m->profile_name, '/') || m->namespace[0] == '.' ||
	    m->profile_name[0] == '.') {
		log_error("refusing to write model with name '%s' in namespace '%s'",
			  m->profile_name, m->namespace);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s/%s", b->cfg.sink_dir, m->namespace);
	rc = mkdir_p(dir);
	if (rc < 0) {
		log_error("cannot create sink dir %s: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s.json", dir, m->profile_name);
	rc = apm_model_write_json(obj, path);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/%s.yaml", dir, m->profile_name);
		rc = apm_model_write_yaml(obj, path);
	}
	if (rc < 0)
		log_error("cannot write model to %s: %s", path, strerror(-rc));
	return rc;
}

static int builder_publish(struct builder *b, const struct store_run *run,
			   const struct behavior_model *m, const char *aa, const char *sc,
			   const char *model_json)
{
	Armorsmith__V1__ProfileBuilt pb = ARMORSMITH__V1__PROFILE_BUILT__INIT;
	size_t len;
	uint8_t *buf;
	int rc;

	pb.policy_key = (char *)run->policy_key;
	pb.generation = run->generation;
	pb.profile_name = m->profile_name;
	pb.namespace_ = m->namespace;
	pb.apparmor_profile = (char *)aa;
	pb.seccomp_profile = (char *)(sc ? sc : "");
	pb.armor_profile_model_json = (char *)model_json;
	pb.built_unix_nano = time_now_ns();
	pb.desired_nodes = m->desired_nodes;
	pb.completed_nodes = m->completed_nodes;
	pb.behavior_count = m->syscalls.len + m->execs.len + m->capabilities.len + m->n_files +
			    m->n_networks + m->n_ptraces + m->n_signals + m->n_mounts;
	len = armorsmith__v1__profile_built__get_packed_size(&pb);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	armorsmith__v1__profile_built__pack(&pb, buf);
	rc = kafka_produce(b->producer, TOPIC_PROFILES, run->policy_key, buf, len,
			   "armorsmith.v1.ProfileBuilt");
	free(buf);
	if (rc == 0 && rd_kafka_flush(b->producer, 30000)) {
		log_error("ProfileBuilt for %s not delivered within 30s", run->policy_key);
		rc = -ETIMEDOUT;
	}
	return rc;
}

static int builder_build(struct builder *b, const struct store_run *run)
{
	struct behavior_model m;
	struct profile_build pb;
	char *model_json = NULL;
	int rc;

	rc = store_load_model(b->store, run->policy_key, run->generation, &m);
	if (rc < 0)
		return rc;
	rc = profile_build_run(&m, &pb);
	if (rc < 0) {
		log_error("cannot generate profiles for %s generation %" PRIu64 ": %s",
			  run->policy_key, run->generation, strerror(-rc));
		goto out_model;
	}
	model_json = json_dumps(pb.model, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!model_json) {
		rc = -ENOMEM;
		goto out;
	}
	rc = builder_sink_files(b, &m, pb.model);
	if (rc < 0)
		goto out;
	/* Publish before marking Completed: a crash in between re-publishes the
	 * same bytes, it never loses the profile. */
	rc = builder_publish(b, run, &m, pb.apparmor, pb.seccomp, model_json);
	if (rc < 0)
		goto out;
	rc = store_mark_completed(b->store, run->policy_key, run->generation, pb.apparmor,
				  pb.seccomp ? pb.seccomp : "");
	if (rc == 0)
		log_info("built %s generation %" PRIu64 ": %zu syscalls, %u/%u nodes reported",
			 run->policy_key, run->generation, m.syscalls.len, m.completed_nodes,
			 m.desired_nodes);
out:
	free(model_json);
	profile_build_free(&pb);
out_model:
	behavior_model_free(&m);
	return rc;
}

static void builder_tick(struct builder *b)
{
	struct store_run *runs = NULL;
	size_t n = 0;
	int64_t now = time_now_ns();

	if (store_list_due_runs(b->store, now, &runs, &n) < 0) {
		store_reconnect(b->store);
		return;
	}
	for (size_t i = 0; i < n && !builder_stop; i++) {
		const struct store_run *r = &runs[i];
		bool all_reported = r->joined > 0 && r->reported >= r->joined;
		bool grace_over = now >= r->deadline_ns + b->cfg.grace_ns;
		char key[600];

		if (!all_reported && !grace_over)
			continue;
		snprintf(key, sizeof(key), "%s#%" PRIu64, r->policy_key, r->generation);
		if (strset_contains(&b->failed, key))
			continue;
		if (!all_reported)
			log_warn("run %s: grace period over with %u of %u nodes reported",
				 r->policy_key, r->reported, r->joined);
		if (builder_build(b, r) < 0)
			strset_add(&b->failed, key);
	}
	free(runs);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"kafka", required_argument, NULL, 'k'},
	    {"pg", required_argument, NULL, 'p'},     {"sink-dir", required_argument, NULL, 's'},
	    {"grace", required_argument, NULL, 'g'},  {"once", no_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	struct builder b = {0};
	const char *config = NULL, *kafka = NULL, *pg = NULL, *sink = NULL, *grace = NULL;
	char err[512];
	int c, rc = 1;

	log_init("armorsmith-builder");
	if (config_init_defaults(&b.cfg) < 0)
		return 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			kafka = optarg;
			break;
		case 'p':
			pg = optarg;
			break;
		case 's':
			sink = optarg;
			break;
		case 'g':
			grace = optarg;
			break;
		case 'o':
			b.once = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config_load_sources(&b.cfg, config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (grace && time_parse_duration(grace, &b.cfg.grace_ns) < 0) {
		log_error("invalid duration for --grace: '%s'", grace);
		goto out;
	}
	if ((kafka && config_set(&b.cfg.kafka_brokers, kafka)) ||
	    (pg && config_set(&b.cfg.pg_dsn, pg)) || (sink && config_set(&b.cfg.sink_dir, sink)))
		goto out;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (store_open(b.cfg.pg_dsn, &b.store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	b.producer = kafka_producer_new(b.cfg.kafka_brokers, NULL, NULL, err, sizeof(err));
	if (!b.producer || kafka_check_topic(b.producer, b.cfg.kafka_brokers, TOPIC_PROFILES, 10000,
					     err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	log_info("building into %s and %s", b.cfg.sink_dir, TOPIC_PROFILES);
	while (!builder_stop) {
		builder_tick(&b);
		if (b.once)
			break;
		usleep(200000);
	}
	rc = 0;
out:
	if (b.producer) {
		rd_kafka_flush(b.producer, 10000);
		rd_kafka_destroy(b.producer);
	}
	strset_free(&b.failed);
	store_close(b.store);
	config_free(&b.cfg);
	return rc;
}
