/* `armorsmith model`: models a local command end to end through the real
 * pipeline (probe -> Kafka -> merger -> PostgreSQL -> builder) and writes its
 * profiles and ArmorProfileModel. */
#include "apm_model.h"
#include "bpf_capture.h"
#include "cli.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "services.h"
#include "store.h"
#include "target.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOIN_TIMEOUT_NS (60 * NSEC_PER_SEC)
/* Without --duration the run lasts until the command exits; this is only
 * the deadline a probe sees should the CLI die before announcing the end. */
#define UNTIL_EXIT_NS (24 * 3600 * NSEC_PER_SEC)

static volatile sig_atomic_t model_interrupted;

struct model_opts {
	const char *name;
	const char *namespace;
	const char *out_dir;
	const char *sources;
	const char *audit_log;
	const char *kafka, *pg, *config;
	int64_t duration_ns;
	int64_t term_grace_ns;
	int64_t grace_ns;
	bool keep_running;
	bool use_running;
	bool src_bpf;
	bool src_seccomp_audit;
	bool src_apparmor_audit;
	bool sources_given;
	char **argv;
};

struct model_ctx {
	struct model_opts o;
	struct armorsmith_config cfg;
	char policy_key[320];
	uint64_t generation;
	char workdir[256];
	struct service probe, merger, builder;
	rd_kafka_t *producer;
	rd_kafka_t *profiles;
	struct store *store;
	struct target target;
	int64_t start_ns;
	int64_t deadline_ns;
};

static void on_interrupt(int sig)
{
	(void)sig;
	model_interrupted = 1;
}

void cli_model_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith model [OPTIONS] -- COMMAND [ARGS...]\n"
	    "\n"
	    "Runs COMMAND as a modeling target and records what it does through the whole\n"
	    "pipeline: the node probe reads the target's seccomp audit records, publishes each\n"
	    "distinct behavior to Kafka, the merger unions them into the PostgreSQL behavior\n"
	    "store, and when modeling ends the builder generates deny-by-default profiles.\n"
	    "Writes NAME.seccomp.json, NAME.apparmor, NAME.armorprofilemodel.yaml and\n"
	    "NAME.armorprofilemodel.json into --out. Exits 0 when they are written, whatever\n"
	    "COMMAND's own status. Progress goes to stderr.\n"
	    "\n"
	    "The target runs in a cgroup v2 and an audit session of its own, under the modeling\n"
	    "seccomp filter: SCMP_ACT_LOG by default, open, openat, openat2, close, read and\n"
	    "write allowed, exactly as a runtime starts a BehaviorModeling pod.\n"
	    "\n"
	    "Options:\n"
	    "  --name NAME          profile name: the ArmorProfileModel's metadata.name and the\n"
	    "                       output file stem (required; [a-z0-9.-], at most 63 chars)\n"
	    "  --namespace NS       the model's namespace (default: default)\n"
	    "  --out DIR            output directory (default: .)\n"
	    "  --duration D         model for D (e.g. 30s, 5m) then end modeling and send\n"
	    "                       COMMAND SIGTERM (SIGKILL 5s later); default: until COMMAND\n"
	    "                       exits\n"
	    "  --keep-running       at the deadline, leave COMMAND running\n"
	    "  --sources LIST       capture sources (default: seccomp-audit). Only\n"
	    "                       seccomp-audit is implemented so far; bpf and apparmor-audit\n"
	    "                       are refused with an error.\n"
	    "  --audit-log FILE     the audit log the probe tails (default: the first of\n"
	    "                       /var/log/audit/audit.log, /var/log/kern.log)\n"
	    "  --kafka BROKERS      Kafka bootstrap servers (env ARMORSMITH_KAFKA_BROKERS;\n"
	    "                       config kafka.brokers; default %s)\n"
	    "  --pg CONNINFO        PostgreSQL conninfo (env ARMORSMITH_PG_DSN; config\n"
	    "                       postgres.dsn; default '%s')\n"
	    "  --config FILE        YAML configuration file (see docs/configuration.md)\n"
	    "  --grace D            how long the builder waits for a silent node (default 30s)\n"
	    "  --use-running        use an armorsmith-probe, -merger and -builder that are\n"
	    "                       already running instead of starting them\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "Precedence: flags, then environment, then the config file, then defaults.\n",
	    CONFIG_DEFAULT_BROKERS, CONFIG_DEFAULT_PG_DSN);
}

static bool valid_k8s_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

static int parse_sources(struct model_opts *o)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", o->sources);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "bpf") == 0) {
			o->src_bpf = true;
		} else if (strcmp(tok, "seccomp-audit") == 0) {
			o->src_seccomp_audit = true;
		} else if (strcmp(tok, "apparmor-audit") == 0) {
			o->src_apparmor_audit = true;
		} else {
			log_error("unsupported --sources '%s': unknown source '%s' (use bpf, "
				  "seccomp-audit, apparmor-audit)",
				  o->sources, tok);
			return -EINVAL;
		}
	}
	if (!o->src_bpf && !o->src_seccomp_audit && !o->src_apparmor_audit) {
		log_error("--sources '%s' names no source", o->sources);
		return -EINVAL;
	}
	return 0;
}

/* BPF where the programs load here, else the audit route, as the probe on
 * this node would find it; an explicit --sources is never second-guessed. */
static void choose_default_sources(struct model_opts *o)
{
	struct bpf_capture *c = NULL;
	char err[256] = "";

	if (bpf_capture_open(&c, err, sizeof(err)) == 0) {
		bpf_capture_close(c);
		return;
	}
	log_warn("bpf capture does not load here (%s); using --sources seccomp-audit", err);
	o->sources = "seccomp-audit";
	o->src_bpf = false;
	o->src_seccomp_audit = true;
}

static int parse_opts(int argc, char **argv, struct model_opts *o)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"namespace", required_argument, NULL, 'N'},
	    {"out", required_argument, NULL, 'o'},
	    {"duration", required_argument, NULL, 'd'},
	    {"keep-running", no_argument, NULL, 'K'},
	    {"sources", required_argument, NULL, 's'},
	    {"audit-log", required_argument, NULL, 'a'},
	    {"kafka", required_argument, NULL, 'k'},
	    {"pg", required_argument, NULL, 'p'},
	    {"config", required_argument, NULL, 'c'},
	    {"grace", required_argument, NULL, 'g'},
	    {"use-running", no_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	o->namespace = "default";
	o->out_dir = ".";
	o->sources = "bpf";
	o->term_grace_ns = 5 * NSEC_PER_SEC;
	o->grace_ns = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->name = optarg;
			break;
		case 'N':
			o->namespace = optarg;
			break;
		case 'o':
			o->out_dir = optarg;
			break;
		case 'd':
			if (time_parse_duration(optarg, &o->duration_ns) < 0 ||
			    o->duration_ns <= 0) {
				log_error("invalid --duration '%s' (use e.g. 30s, 5m)", optarg);
				return 2;
			}
			break;
		case 'K':
			o->keep_running = true;
			break;
		case 's':
			o->sources = optarg;
			break;
		case 'a':
			o->audit_log = optarg;
			break;
		case 'k':
			o->kafka = optarg;
			break;
		case 'p':
			o->pg = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'g':
			if (time_parse_duration(optarg, &o->grace_ns) < 0) {
				log_error("invalid --grace '%s'", optarg);
				return 2;
			}
			break;
		case 'u':
			o->use_running = true;
			break;
		case 'h':
			cli_model_usage(stdout);
			return -1;
		default:
			cli_model_usage(stderr);
			return 2;
		}
	}
	if (!o->name) {
		log_error("--name is required");
		return 2;
	}
	if (!valid_k8s_name(o->name) || !valid_k8s_name(o->namespace)) {
		log_error("invalid --name '%s' or --namespace '%s': lowercase letters, digits, '-' "
			  "and '.', at most 63 characters",
			  o->name, o->namespace);
		return 2;
	}
	if (parse_sources(o) < 0)
		return 2;

	if (optind >= argc) {
		log_error("no COMMAND given (usage: armorsmith model --name NAME -- COMMAND ...)");
		return 2;
	}
	o->argv = &argv[optind];
	return 0;
}

static int publish_control(struct model_ctx *x)
{
	Armorsmith__V1__ModelingControl c = ARMORSMITH__V1__MODELING_CONTROL__INIT;
	Armorsmith__V1__Target t = ARMORSMITH__V1__TARGET__INIT;
	Armorsmith__V1__Source sources[3];
	char enforcer[32];
	size_t n_sources = 0;
	uint8_t buf[4096];
	size_t len;

	t.kind = "LocalProcess";
	t.name = x->o.argv[0];
	t.cgroup_path = x->target.cgroup_rel;
	t.cgroup_id = x->target.cgroup_id;
	t.audit_session = x->target.audit_session;
	t.root_pid = (uint32_t)x->target.pid;
	t.node = x->cfg.node_name;
	c.policy_key = x->policy_key;
	c.profile_name = (char *)x->o.name;
	c.namespace_ = (char *)x->o.namespace;
	if (x->o.src_bpf)
		sources[n_sources++] = ARMORSMITH__V1__SOURCE__SOURCE_BPF;
	if (x->o.src_seccomp_audit)
		sources[n_sources++] = ARMORSMITH__V1__SOURCE__SOURCE_SECCOMP_AUDIT;
	if (x->o.src_apparmor_audit)
		sources[n_sources++] = ARMORSMITH__V1__SOURCE__SOURCE_APPARMOR_AUDIT;
	/* The enforcers the sources stand for; captured syscalls make a seccomp profile. */
	snprintf(enforcer, sizeof(enforcer), "%s%s%s", x->o.src_apparmor_audit ? "AppArmor" : "",
		 x->o.src_bpf ? "BPF" : "",
		 x->o.src_bpf || x->o.src_seccomp_audit ? "Seccomp" : "");
	c.enforcer = enforcer;
	c.target = &t;
	c.duration_seconds = x->o.duration_ns / NSEC_PER_SEC;
	c.start_unix_nano = x->start_ns;
	c.deadline_unix_nano = x->deadline_ns;
	c.generation = x->generation;
	c.n_sources = n_sources;
	c.sources = sources;
	c.state = ARMORSMITH__V1__MODELING_CONTROL__STATE__STATE_MODELING;
	len = armorsmith__v1__modeling_control__get_packed_size(&c);
	if (len > sizeof(buf))
		return -E2BIG;
	armorsmith__v1__modeling_control__pack(&c, buf);
	if (kafka_produce(x->producer, TOPIC_CONTROL, x->policy_key, buf, len,
			  "armorsmith.v1.ModelingControl") < 0)
		return -EIO;
	if (rd_kafka_flush(x->producer, 15000)) {
		log_error("kafka at %s did not take the modeling control within 15s",
			  x->cfg.kafka_brokers);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Assigns the profiles topic at its current end, so only profiles built
 * after this point are read. */
static int open_profiles(struct model_ctx *x, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *parts;
	int n;

	x->profiles = kafka_consumer_new(x->cfg.kafka_brokers, NULL, NULL, NULL, err, errlen);
	if (!x->profiles)
		return -EINVAL;
	n = kafka_partition_count(x->profiles, TOPIC_PROFILES, 10000);
	if (n <= 0) {
		snprintf(err, errlen, "kafka at %s has no readable topic %s", x->cfg.kafka_brokers,
			 TOPIC_PROFILES);
		return -ENOENT;
	}
	parts = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++) {
		int64_t lo, hi;
		if (rd_kafka_query_watermark_offsets(x->profiles, TOPIC_PROFILES, i, &lo, &hi,
						     10000)) {
			rd_kafka_topic_partition_list_destroy(parts);
			snprintf(err, errlen, "cannot read offsets of %s", TOPIC_PROFILES);
			return -EIO;
		}
		rd_kafka_topic_partition_list_add(parts, TOPIC_PROFILES, i)->offset = hi;
	}
	rd_kafka_assign(x->profiles, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	return 0;
}

static int start_services(struct model_ctx *x)
{
	char bindir[4096], grace[32], state_dir[300], sink_dir[300];
	int rc;

	if (x->o.use_running)
		return 0;
	if ((rc = service_bindir(bindir, sizeof(bindir))) < 0)
		return rc;
	snprintf(state_dir, sizeof(state_dir), "%s/probe-state", x->workdir);
	snprintf(sink_dir, sizeof(sink_dir), "%s/models", x->workdir);
	snprintf(grace, sizeof(grace), "%" PRId64 "ms", x->cfg.grace_ns / NSEC_PER_MSEC);
	{
		char *argv[] = {"armorsmith-merger", "--kafka", x->cfg.kafka_brokers,  "--pg",
				x->cfg.pg_dsn,	     "--group", x->cfg.consumer_group, NULL};
		x->merger.name = "armorsmith-merger";
		if ((rc = service_start(&x->merger, bindir, x->workdir, argv)) < 0)
			return rc;
	}
	{
		char *argv[] = {"armorsmith-builder",
				"--kafka",
				x->cfg.kafka_brokers,
				"--pg",
				x->cfg.pg_dsn,
				"--sink-dir",
				sink_dir,
				"--grace",
				grace,
				NULL};
		x->builder.name = "armorsmith-builder";
		if ((rc = service_start(&x->builder, bindir, x->workdir, argv)) < 0)
			return rc;
	}
	{
		char *argv[11] = {"armorsmith-probe",
				  "--kafka",
				  x->cfg.kafka_brokers,
				  "--node",
				  x->cfg.node_name,
				  "--state-dir",
				  state_dir,
				  NULL};
		if (x->cfg.audit_log) {
			argv[7] = "--audit-log";
			argv[8] = x->cfg.audit_log;
		}
		/* --audit-log names a recorded log: read it from its start. */
		if (x->o.audit_log)
			argv[9] = "--from-start";
		x->probe.name = "armorsmith-probe";
		if ((rc = service_start(&x->probe, bindir, x->workdir, argv)) < 0)
			return rc;
	}
	log_info("started armorsmith-probe, -merger and -builder (logs in %s)", x->workdir);
	return 0;
}

static void stop_services(struct model_ctx *x)
{
	service_stop(&x->probe, 10000);
	service_stop(&x->builder, 10000);
	service_stop(&x->merger, 10000);
}

/* A spawned service that died is the clearest error there is: say which. */
static int check_services(struct model_ctx *x)
{
	struct service *all[] = {&x->probe, &x->merger, &x->builder};

	if (x->o.use_running)
		return 0;
	for (size_t i = 0; i < 3; i++) {
		if (!service_alive(all[i])) {
			log_error("%s exited unexpectedly", all[i]->name);
			service_print_log_tail(all[i], 20);
			return -ECHILD;
		}
	}
	return 0;
}

static void print_progress(struct model_ctx *x, const char *phase)
{
	char status[32] = "Pending";
	uint64_t events = 0;
	uint32_t joined = 0, reported = 0;

	store_run_status(x->store, x->policy_key, x->generation, status, sizeof(status), &events,
			 &joined, &reported);
	log_info("%s: phase %s (%s), %" PRIu64 " behavior events merged, nodes joined %u, "
		 "reported %u",
		 x->policy_key, status, phase, events, joined, reported);
}

static int wait_joined(struct model_ctx *x)
{
	int64_t until = time_now_ns() + JOIN_TIMEOUT_NS, last = 0;

	while (time_now_ns() < until && !model_interrupted) {
		char status[32];
		uint64_t events;
		uint32_t joined = 0, reported;

		if (check_services(x) < 0)
			return -ECHILD;
		if (store_run_status(x->store, x->policy_key, x->generation, status, sizeof(status),
				     &events, &joined, &reported) == 0 &&
		    joined > 0)
			return 0;
		if (time_now_ns() - last > 5 * NSEC_PER_SEC) {
			log_info("waiting for the probe on node %s to join the run",
				 x->cfg.node_name);
			last = time_now_ns();
		}
		usleep(100000);
	}
	if (model_interrupted)
		return -EINTR;
	log_error("no probe joined the run within %" PRId64 "s: is armorsmith-probe running "
		  "with --node %s and armorsmith-merger consuming %s?",
		  JOIN_TIMEOUT_NS / NSEC_PER_SEC, x->cfg.node_name, TOPIC_BEHAVIOR);
	service_print_log_tail(&x->probe, 20);
	service_print_log_tail(&x->merger, 20);
	return -ETIMEDOUT;
}

static int write_text(const char *path, const char *text)
{
	char tmp[4200];
	FILE *f;
	size_t len = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		return -errno;
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

/* A model too large for the profiles topic: the builder's sink has it. */
static json_t *load_omitted_model(struct model_ctx *x, const Armorsmith__V1__ProfileBuilt *pb)
{
	char path[4096];
	json_error_t jerr;
	json_t *obj;

	if (x->o.use_running)
		snprintf(path, sizeof(path), "%s/%s/%s.json", x->cfg.sink_dir, pb->namespace_,
			 pb->profile_name);
	else
		snprintf(path, sizeof(path), "%s/models/%s/%s.json", x->workdir, pb->namespace_,
			 pb->profile_name);
	obj = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj)
		log_error("the model was too large for %s and cannot be read from the builder's "
			  "sink %s: %s",
			  TOPIC_PROFILES, path, jerr.text);
	return obj;
}

static int write_outputs(struct model_ctx *x, const Armorsmith__V1__ProfileBuilt *pb)
{
	const char *aa = pb->apparmor_profile, *sc = pb->seccomp_profile;
	char path[4096] = "";
	json_error_t jerr;
	json_t *obj = NULL, *from_sink = NULL;
	int rc;

	if (pb->model_omitted) {
		json_t *profile;

		from_sink = load_omitted_model(x, pb);
		if (!from_sink)
			return -ENOENT;
		/* The texts the record left out, as the object carries them. */
		profile = json_object_get(json_object_get(from_sink, "data"), "profile");
		aa = json_string_value(json_object_get(profile, "content"));
		sc = json_string_value(json_object_get(profile, "seccompContent"));
		aa = aa ? aa : "";
		sc = sc ? sc : "";
	}
	if (mkdir(x->o.out_dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(path, sizeof(path), "%s", x->o.out_dir);
		goto fail;
	}
	if (!*sc && (x->o.src_bpf || x->o.src_seccomp_audit)) {
		log_error("no syscall of the target was observed, so no seccomp profile was built "
			  "(see the probe's log)");
		rc = -ENODATA;
		goto out;
	}
	if (*sc) {
		snprintf(path, sizeof(path), "%s/%s.seccomp.json", x->o.out_dir, x->o.name);
		if ((rc = write_text(path, sc)) < 0)
			goto fail;
	} else {
		log_warn("no seccomp profile: the sources '%s' capture no syscalls", x->o.sources);
	}
	snprintf(path, sizeof(path), "%s/%s.apparmor", x->o.out_dir, x->o.name);
	if ((rc = write_text(path, aa)) < 0)
		goto fail;
	obj = from_sink ? json_incref(from_sink)
			: json_loads(pb->armor_profile_model_json, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		log_error("the builder's ArmorProfileModel is not valid JSON: %s", jerr.text);
		rc = -EINVAL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.armorprofilemodel.json", x->o.out_dir, x->o.name);
	rc = apm_model_write_json(obj, path);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/%s.armorprofilemodel.yaml", x->o.out_dir,
			 x->o.name);
		rc = apm_model_write_yaml(obj, path);
	}
	if (rc < 0)
		goto fail;
	log_info(
	    "wrote %s/%s.{seccomp.json,apparmor,armorprofilemodel.yaml,armorprofilemodel.json}",
	    x->o.out_dir, x->o.name);
	goto out;
fail:
	log_error("cannot write %s: %s", path, strerror(-rc));
out:
	json_decref(obj);
	json_decref(from_sink);
	return rc;
}

/* Reads armorsmith.profiles.v1 until this run's ProfileBuilt arrives. */
static int wait_profile(struct model_ctx *x)
{
	int64_t until = time_now_ns() + x->cfg.grace_ns + 120 * NSEC_PER_SEC, last = 0;

	while (time_now_ns() < until && !model_interrupted) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(x->profiles, 200);
		Armorsmith__V1__ProfileBuilt *pb;
		int rc;

		if (time_now_ns() - last > 2 * NSEC_PER_SEC) {
			print_progress(x, "building");
			last = time_now_ns();
		}
		if (check_services(x) < 0)
			return -ECHILD;
		if (!msg)
			continue;
		if (msg->err || !msg->payload) {
			rd_kafka_message_destroy(msg);
			continue;
		}
		pb = armorsmith__v1__profile_built__unpack(NULL, msg->len, msg->payload);
		rd_kafka_message_destroy(msg);
		if (!pb)
			continue;
		if (strcmp(pb->policy_key, x->policy_key) != 0 || pb->generation != x->generation) {
			armorsmith__v1__profile_built__free_unpacked(pb, NULL);
			continue;
		}
		log_info("profile built: %" PRIu64 " behaviors, %u/%u nodes reported",
			 pb->behavior_count, pb->completed_nodes, pb->desired_nodes);
		rc = write_outputs(x, pb);
		armorsmith__v1__profile_built__free_unpacked(pb, NULL);
		return rc;
	}
	if (model_interrupted)
		return -EINTR;
	log_error("no profile was built for %s: is armorsmith-builder running against %s?",
		  x->policy_key, x->cfg.pg_dsn);
	service_print_log_tail(&x->builder, 20);
	service_print_log_tail(&x->probe, 20);
	return -ETIMEDOUT;
}

static int load_config(struct model_ctx *x)
{
	char err[512];

	if (config_init_defaults(&x->cfg) < 0)
		return -ENOMEM;
	if (config_load_sources(&x->cfg, x->o.config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EINVAL;
	}
	if ((x->o.kafka && config_set(&x->cfg.kafka_brokers, x->o.kafka)) ||
	    (x->o.pg && config_set(&x->cfg.pg_dsn, x->o.pg)) ||
	    (x->o.audit_log && config_set(&x->cfg.audit_log, x->o.audit_log)))
		return -ENOMEM;
	if (x->o.grace_ns >= 0)
		x->cfg.grace_ns = x->o.grace_ns;
	return 0;
}

/* Runs the target until it exits or the deadline passes, then ends modeling. */
static int run_target(struct model_ctx *x)
{
	char err[512];
	int status = 0, rc;
	int64_t last = 0;

	if ((rc = target_start(&x->target, err, sizeof(err))) < 0) {
		log_error("%s", err);
		return rc;
	}
	log_info("modeling %s (pid %d, audit session %u)", x->o.argv[0], (int)x->target.pid,
		 x->target.audit_session);
	for (;;) {
		int64_t step = time_now_ns() + 2 * NSEC_PER_SEC;
		int64_t until = x->o.duration_ns && x->deadline_ns < step ? x->deadline_ns : step;

		rc = target_wait(&x->target, until, &status);
		if (rc != 0 || model_interrupted)
			break;
		if (x->o.duration_ns && time_now_ns() >= x->deadline_ns)
			break;
		if (time_now_ns() - last > 5 * NSEC_PER_SEC) {
			print_progress(x, "target running");
			last = time_now_ns();
		}
		if (check_services(x) < 0)
			return -ECHILD;
	}
	if (rc == 1) {
		if (WIFEXITED(status))
			log_info("command exited with status %d", WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			log_info("command killed by signal %d", WTERMSIG(status));
	} else if (!x->o.keep_running) {
		log_info("modeling deadline reached; stopping the command");
	}
	/* End modeling now: the probe drains the log up to this moment. */
	if (!x->o.duration_ns || time_now_ns() < x->deadline_ns || rc == 1) {
		x->deadline_ns = time_now_ns();
		if ((rc = publish_control(x)) < 0)
			return rc;
	}
	if (!x->o.keep_running)
		target_terminate(&x->target, x->o.term_grace_ns);
	return model_interrupted ? -EINTR : 0;
}

int cli_model(int argc, char **argv)
{
	struct model_ctx x = {0};
	char err[512];
	int rc;

	rc = parse_opts(argc, argv, &x.o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (geteuid() != 0) {
		log_error(
		    "armorsmith model must run as root: it creates the target's cgroup and "
		    "audit session, and the probe loads BPF programs and reads the audit log");
		return 1;
	}
	if (!x.o.sources_given)
		choose_default_sources(&x.o);
	if ((rc = load_config(&x)) < 0)
		return 1;
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	snprintf(x.policy_key, sizeof(x.policy_key), "%s/%s", x.o.namespace, x.o.name);
	x.start_ns = time_now_ns();
	/* Restarting modeling bumps the generation; a clock reading is monotonic
	 * enough across runs of one name and needs no coordination. */
	x.generation = (uint64_t)(x.start_ns / NSEC_PER_MSEC);
	x.deadline_ns = x.start_ns + (x.o.duration_ns ? x.o.duration_ns : UNTIL_EXIT_NS);
	rc = 1;

	/* Reachability first, with errors that name the service. */
	if (store_open(x.cfg.pg_dsn, &x.store, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	x.producer = kafka_producer_new(x.cfg.kafka_brokers, NULL, NULL, err, sizeof(err));
	if (!x.producer || kafka_check_topic(x.producer, x.cfg.kafka_brokers, TOPIC_CONTROL, 10000,
					     err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (open_profiles(&x, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	snprintf(x.workdir, sizeof(x.workdir), "%s/armorsmith-model-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(x.workdir)) {
		log_error("cannot create a work dir in %s: %s", x.workdir, strerror(errno));
		goto out;
	}
	if (start_services(&x) < 0)
		goto out;
	if (target_prepare(&x.target, x.o.name, x.o.argv, x.o.src_seccomp_audit, err, sizeof(err)) <
	    0) {
		log_error("%s", err);
		goto out;
	}
	if (x.o.src_bpf && !x.target.cgroup_id) {
		log_error("bpf capture attributes by cgroup, and the target has no cgroup v2 "
			  "(use --sources seccomp-audit)");
		goto out;
	}
	if (publish_control(&x) < 0)
		goto out;
	log_info("modeling %s generation %" PRIu64 ": phase Pending (sources %s)", x.policy_key,
		 x.generation, x.o.sources);
	if (wait_joined(&x) < 0)
		goto out;
	if (run_target(&x) < 0)
		goto out;
	if (wait_profile(&x) < 0)
		goto out;
	rc = 0;
out:
	if (x.target.pid > 0 && !x.o.keep_running)
		target_terminate(&x.target, x.o.term_grace_ns);
	target_cleanup(&x.target);
	stop_services(&x);
	if (x.profiles) {
		rd_kafka_consumer_close(x.profiles);
		rd_kafka_destroy(x.profiles);
	}
	if (x.producer) {
		rd_kafka_flush(x.producer, 5000);
		rd_kafka_destroy(x.producer);
	}
	store_close(x.store);
	if (rc == 0 && x.workdir[0] && !getenv("ARMORSMITH_KEEP_WORKDIR")) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x.workdir);
		if (system(cmd) != 0)
			log_warn("cannot remove %s", x.workdir);
	} else if (x.workdir[0]) {
		log_info("service logs kept in %s", x.workdir);
	}
	config_free(&x.cfg);
	return rc;
}
