/* armorsmith-builder: notices when a modeling run is complete (deadline passed
 * and every node that joined has reported, or the grace period ran out),
 * generates the profiles from the merged behavior, writes the
 * ArmorProfileModel through its sink, and publishes ProfileBuilt. */
#include "apm_model.h"
#include "controller.h"
#include "profile_build.h"
#include "config.h"
#include "httpd.h"
#include "kafka.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "strset.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <curl/curl.h>
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
	struct kube_client *kube;      /* kube.enabled: NULL otherwise */
	struct controller *controller; /* policies in, ArmorProfileModels out */
	struct builder_retry *retries; /* runs waiting out a Kubernetes error */
	size_t n_retries;
	rd_kafka_resp_err_t delivery_error; /* of the last ProfileBuilt */
};

/* Per-run backoff, so one run whose model Kubernetes refuses (RBAC, a
 * terminating namespace) never holds up the others. */
struct builder_retry {
	char key[600];
	int64_t next_ns;
	int64_t delay_ns;
};

#define BUILDER_RETRY_MIN_NS (2 * NSEC_PER_SEC)
#define BUILDER_RETRY_MAX_NS (60 * NSEC_PER_SEC)

static struct builder_retry *builder_retry_find(struct builder *b, const char *key)
{
	for (size_t i = 0; i < b->n_retries; i++)
		if (!strcmp(b->retries[i].key, key))
			return &b->retries[i];
	return NULL;
}

static bool builder_retry_due(struct builder *b, const char *key, int64_t now)
{
	struct builder_retry *r = builder_retry_find(b, key);

	return !r || now >= r->next_ns;
}

static void builder_retry_later(struct builder *b, const char *key, int64_t now)
{
	struct builder_retry *r = builder_retry_find(b, key);

	if (!r) {
		r = realloc(b->retries, (b->n_retries + 1) * sizeof(*r));
		if (!r)
			return; /* retried on the next tick instead */
		b->retries = r;
		r = &b->retries[b->n_retries++];
		snprintf(r->key, sizeof(r->key), "%s", key);
		r->delay_ns = BUILDER_RETRY_MIN_NS / 2;
	}
	r->delay_ns =
	    r->delay_ns * 2 > BUILDER_RETRY_MAX_NS ? BUILDER_RETRY_MAX_NS : r->delay_ns * 2;
	r->next_ns = now + r->delay_ns;
}

static void builder_retry_forget(struct builder *b, const char *key)
{
	struct builder_retry *r = builder_retry_find(b, key);

	if (r)
		*r = b->retries[--b->n_retries];
}

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
	    "With --kube it is also the controller: it watches VarmorPolicy and\n"
	    "VarmorClusterPolicy objects in BehaviorModeling mode, publishes their modeling\n"
	    "runs to armorsmith.control.v1, moves their status Pending -> Modeling ->\n"
	    "Completed, and writes each run's ArmorProfileModel to the API server\n"
	    "(storageType CRDInternal; LocalDisk with the data in SINK_DIR when the API server\n"
	    "refuses its size). Kubeconfig: in-cluster service account, else $KUBECONFIG,\n"
	    "else ~/.kube/config.\n"
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
	    "  --kube             Kubernetes mode (kube.enabled, env ARMORSMITH_KUBE=true)\n"
	    "  --namespace NS     where cluster policies' models go (kube.namespace, env\n"
	    "                     ARMORSMITH_NAMESPACE, default " CONFIG_DEFAULT_NAMESPACE ")\n"
	    "  --metrics-addr H:P serve /healthz and /metrics over HTTP on HOST:PORT\n"
	    "                     (http.metrics_addr, env ARMORSMITH_METRICS_ADDR; default off)\n"
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

/* Delivery errors the broker reports later (e.g. a topic with a smaller
 * max.message.bytes): seen after the flush. */
static void builder_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct builder *b = opaque;

	(void)rk;
	if (msg->err)
		b->delivery_error = msg->err;
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
	pb.armor_profile_model_json = (char *)(model_json ? model_json : "");
	if (!model_json) {
		pb.apparmor_profile = "";
		pb.seccomp_profile = "";
		pb.model_omitted = true;
	}
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
	b->delivery_error = RD_KAFKA_RESP_ERR_NO_ERROR;
	rc = kafka_produce(b->producer, TOPIC_PROFILES, run->policy_key, buf, len,
			   "armorsmith.v1.ProfileBuilt");
	free(buf);
	if (rc == 0 && rd_kafka_flush(b->producer, 30000)) {
		log_error("ProfileBuilt for %s not delivered within 30s", run->policy_key);
		rc = -ETIMEDOUT;
	}
	if (rc == 0 && b->delivery_error) {
		log_error("ProfileBuilt for %s not delivered: %s", run->policy_key,
			  rd_kafka_err2str(b->delivery_error));
		rc = b->delivery_error == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? -EMSGSIZE : -EIO;
	}
	return rc;
}

static int builder_build(struct builder *b, const struct store_run *run)
{
	struct behavior_model m;
	struct profile_build pb;
	char *model_json = NULL, err[512];
	bool kube_run;
	int rc, owner;
	/* Stage times for the log: the modeling-stop-to-profile latency is a
	 * target (bench/build_time.sh) and this says where it goes. */
	int64_t t_start = time_now_ns(), t_loaded, t_generated, t_written;

	rc = store_load_model(b->store, run->policy_key, run->generation, &m);
	if (rc < 0)
		return rc;
	t_loaded = time_now_ns();
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
	t_generated = time_now_ns();
	rc = builder_sink_files(b, &m, pb.model);
	if (rc < 0)
		goto out;
	t_written = time_now_ns();
	owner =
	    b->controller ? controller_run_owner(b->controller, run->policy_key) : CONTROLLER_LOCAL;
	if (owner == -EAGAIN) {
		rc = -EAGAIN; /* policies not listed yet */
		goto out;
	}
	if (owner == CONTROLLER_ORPHANED)
		log_warn("%s: its policy was deleted; the model is kept in %s/%s only",
			 run->policy_key, b->cfg.sink_dir, m.namespace);
	kube_run = owner == CONTROLLER_OWNED;
	if (kube_run) {
		bool local_disk;
		rc = controller_write_model(b->controller, pb.model, &local_disk, err, sizeof(err));
		if (rc < 0) {
			log_error("cannot write the armorprofilemodel of %s: %s", run->policy_key,
				  err);
			rc = -EAGAIN;
			goto out;
		}
		if (local_disk)
			log_info("%s: armorprofilemodel stored as LocalDisk (data in %s/%s)",
				 run->policy_key, b->cfg.sink_dir, m.namespace);
	}
	/* Publish before marking Completed: a crash in between re-publishes the
	 * same bytes, it never loses the profile. */
	rc = builder_publish(b, run, &m, pb.apparmor, pb.seccomp, model_json);
	if (rc == -EMSGSIZE) {
		/* The model is safe in the sink (and Kubernetes): say where, in a
		 * record that fits, rather than leave the run unfinished. */
		log_warn("%s: the model (%zu bytes) is too large for %s; publishing ProfileBuilt "
			 "without it",
			 run->policy_key, strlen(model_json), TOPIC_PROFILES);
		rc = builder_publish(b, run, &m, NULL, NULL, NULL);
	}
	if (rc < 0)
		goto out;
	if (kube_run) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "profiles built from the behavior of %u of %u nodes that joined",
			 m.completed_nodes, m.desired_nodes);
		rc = controller_run_completed(b->controller, run->policy_key, run->generation, msg,
					      err, sizeof(err));
		if (rc < 0) {
			log_warn("cannot mark the policy of %s Completed: %s", run->policy_key,
				 err);
			rc = -EAGAIN;
			goto out;
		}
	}
	rc = store_mark_completed(b->store, run->policy_key, run->generation, pb.apparmor,
				  pb.seccomp ? pb.seccomp : "");
	if (rc == 0)
		metric_inc(
		    metrics_counter("armorsmith_builder_runs_built_total", NULL,
				    "Modeling runs whose profiles were built and published."));
	if (rc == 0)
		log_info("built %s generation %" PRIu64 ": %zu syscalls, %u/%u nodes reported; "
			 "%.1f ms (load %.1f, generate %.1f, write %.1f, publish and mark %.1f)",
			 run->policy_key, run->generation, m.syscalls.len, m.completed_nodes,
			 m.desired_nodes, (double)(time_now_ns() - t_start) / 1e6,
			 (double)(t_loaded - t_start) / 1e6, (double)(t_generated - t_loaded) / 1e6,
			 (double)(t_written - t_generated) / 1e6,
			 (double)(time_now_ns() - t_written) / 1e6);
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
	int rc;

	if (store_list_due_runs(b->store, now, &runs, &n) < 0) {
		metrics_health_problem("postgresql: cannot list the runs that are due");
		store_reconnect(b->store);
		return;
	}
	metrics_health_ok();
	for (size_t i = 0; i < n && !builder_stop; i++) {
		const struct store_run *r = &runs[i];
		bool all_reported = r->joined > 0 && r->reported >= r->joined;
		bool grace_over = now >= r->deadline_ns + b->cfg.grace_ns;
		char key[600];

		if (!all_reported && !grace_over)
			continue;
		snprintf(key, sizeof(key), "%s#%" PRIu64, r->policy_key, r->generation);
		if (strset_contains(&b->failed, key) || !builder_retry_due(b, key, now))
			continue;
		if (!all_reported)
			log_warn("run %s: grace period over with %u of %u nodes reported",
				 r->policy_key, r->reported, r->joined);
		rc = builder_build(b, r);
		if (rc < 0)
			metric_inc(metrics_counter("armorsmith_builder_build_failures_total", NULL,
						   "Builds that failed (retried later for "
						   "Kubernetes errors)."));
		/* Kubernetes errors pass; anything else would fail the same way again. */
		if (rc == -EAGAIN)
			builder_retry_later(b, key, now);
		else if (rc < 0)
			strset_add(&b->failed, key);
		else
			builder_retry_forget(b, key);
	}
	free(runs);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"kafka", required_argument, NULL, 'k'},
	    {"pg", required_argument, NULL, 'p'},
	    {"sink-dir", required_argument, NULL, 's'},
	    {"grace", required_argument, NULL, 'g'},
	    {"once", no_argument, NULL, 'o'},
	    {"kube", no_argument, NULL, 'K'},
	    {"namespace", required_argument, NULL, 'N'},
	    {"metrics-addr", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct builder b = {0};
	const char *maddr = NULL;
	struct httpd *metrics = NULL;
	const char *config = NULL, *kafka = NULL, *pg = NULL, *sink = NULL, *grace = NULL;
	const char *namespace = NULL;
	bool kube = false;
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
		case 'K':
			kube = true;
			break;
		case 'N':
			namespace
			= optarg;
			break;
		case 'M':
			maddr = optarg;
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
	    (pg && config_set(&b.cfg.pg_dsn, pg)) || (sink && config_set(&b.cfg.sink_dir, sink)) ||
	    (kube && config_set(&b.cfg.kube_enabled, "true")) ||
	    (namespace && config_set(&b.cfg.kube_namespace, namespace)))
		goto out;
	if (maddr && config_set(&b.cfg.metrics_addr, maddr))
		goto out;
	metrics_init("builder", 60);
	metrics_counter("armorsmith_builder_runs_built_total", NULL,
			"Modeling runs whose profiles were built and published.");
	metrics_counter("armorsmith_builder_build_failures_total", NULL,
			"Builds that failed (retried later for Kubernetes errors).");
	if (b.cfg.metrics_addr && *b.cfg.metrics_addr &&
	    metrics_serve(b.cfg.metrics_addr, &metrics, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (store_open(b.cfg.pg_dsn, &b.store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	b.producer =
	    kafka_producer_new(b.cfg.kafka_brokers, builder_delivery_report, &b, err, sizeof(err));
	if (!b.producer || kafka_check_topic(b.producer, b.cfg.kafka_brokers, TOPIC_PROFILES, 10000,
					     err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (config_kube_enabled(&b.cfg)) {
		/* Before any thread exists: curl's global set-up is not thread-safe. */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if (kube_client_new(&b.kube, err, sizeof(err)) < 0) {
			log_error("kubernetes: %s", err);
			goto out;
		}
		if (controller_start(&b.controller, b.kube, b.producer, b.cfg.kafka_brokers,
				     b.cfg.kube_namespace, b.cfg.match_label, err,
				     sizeof(err)) < 0) {
			log_error("controller: %s", err);
			goto out;
		}
		log_info("controller watching VarmorPolicy and VarmorClusterPolicy (install "
			 "namespace %s)",
			 b.cfg.kube_namespace);
	}
	log_info("building into %s and %s", b.cfg.sink_dir, TOPIC_PROFILES);
	while (!builder_stop) {
		metrics_health_tick();
		builder_tick(&b);
		if (b.once)
			break;
		usleep(200000);
	}
	rc = 0;
out:
	controller_stop(b.controller);
	kube_client_free(b.kube);
	if (b.producer) {
		rd_kafka_flush(b.producer, 10000);
		rd_kafka_destroy(b.producer);
	}
	httpd_stop(metrics);
	strset_free(&b.failed);
	free(b.retries);
	store_close(b.store);
	config_free(&b.cfg);
	return rc;
}
