/* armorsmith-status: the export/import API for ArmorProfileModel objects
 * (vArmor's status service), over HTTPS, with /healthz and /metrics on a
 * separate plain-HTTP address. */
#include "config.h"
#include "httpd.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "status_api.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATUS_DEFAULT_MAX_BODY_MIB 64
/* How often the API server is checked for /healthz. */
#define STATUS_CHECK_EVERY_S 10

static volatile sig_atomic_t status_stop;

static void on_signal(int sig)
{
	(void)sig;
	status_stop = 1;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith-status [OPTIONS]\n"
	    "\n"
	    "Exports and imports ArmorProfileModel objects over HTTPS, as vArmor's status\n"
	    "service does:\n"
	    "  GET  /apis/crd.varmor.org/v1beta1/namespaces/NS/armorprofilemodels/NAME\n"
	    "       the object with its data (from SINK_DIR/NS/NAME.json when storageType is\n"
	    "       LocalDisk)\n"
	    "  POST the same path with an exported object: merges its behavior data into the\n"
	    "       existing model and replaces the profile, or creates the model; data too\n"
	    "       large for the API server goes to SINK_DIR and the object becomes LocalDisk\n"
	    "Requests need 'Authorization: Bearer TOKEN'; the token is checked with a\n"
	    "TokenReview and the verb (get; create and update) with a SubjectAccessReview.\n"
	    "The Kubernetes client comes from the service account in a pod, else KUBECONFIG.\n"
	    "\n"
	    "  --config FILE         YAML configuration (status.addr, status.tls_cert,\n"
	    "                        status.tls_key, builder.sink_dir, http.metrics_addr)\n"
	    "  --addr HOST:PORT      HTTPS address (env ARMORSMITH_STATUS_ADDR, default %s)\n"
	    "  --tls-cert FILE       PEM certificate (env ARMORSMITH_STATUS_TLS_CERT; required)\n"
	    "  --tls-key FILE        PEM private key (env ARMORSMITH_STATUS_TLS_KEY; required)\n"
	    "  --sink-dir DIR        where LocalDisk data lives (env ARMORSMITH_SINK_DIR,\n"
	    "                        default /var/lib/armorsmith/models)\n"
	    "  --metrics-addr H:P    serve /healthz and /metrics over HTTP here\n"
	    "                        (env ARMORSMITH_METRICS_ADDR; default off)\n"
	    "  --max-body MIB        largest accepted request body (default %d)\n"
	    "  -h, --help            this text\n",
	    CONFIG_DEFAULT_STATUS_ADDR, STATUS_DEFAULT_MAX_BODY_MIB);
}

/* /healthz fails while the API server cannot be reached. */
static void status_check_kube(struct kube_client *kube)
{
	char err[512] = "";
	json_t *out = NULL;
	long code = 0;

	if (kube_request(kube, "GET", "/apis/crd.varmor.org/v1beta1", NULL, &code, &out, err,
			 sizeof(err)) == 0)
		metrics_health_ok();
	else
		metrics_health_problem("%s", err);
	json_decref(out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"addr", required_argument, NULL, 'a'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"sink-dir", required_argument, NULL, 's'},
	    {"metrics-addr", required_argument, NULL, 'M'},
	    {"max-body", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct armorsmith_config cfg;
	const char *config = NULL, *addr = NULL, *cert = NULL, *key = NULL, *sink = NULL,
		   *maddr = NULL;
	long max_body_mib = STATUS_DEFAULT_MAX_BODY_MIB;
	struct kube_client *kube = NULL;
	struct status_api *api = NULL;
	struct httpd *server = NULL, *metrics = NULL;
	char err[1024], *end;
	int c, rc = 1;

	log_init("armorsmith-status");
	if (config_init_defaults(&cfg) < 0)
		return 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 's':
			sink = optarg;
			break;
		case 'M':
			maddr = optarg;
			break;
		case 'b':
			max_body_mib = strtol(optarg, &end, 10);
			if (*end || max_body_mib < 1 || max_body_mib > 1024) {
				log_error("--max-body must be 1..1024 (MiB), not '%s'", optarg);
				config_free(&cfg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			config_free(&cfg);
			return 0;
		default:
			usage(stderr);
			config_free(&cfg);
			return 2;
		}
	}
	if (config_load_sources(&cfg, config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if ((addr && config_set(&cfg.status_addr, addr)) ||
	    (cert && config_set(&cfg.status_tls_cert, cert)) ||
	    (key && config_set(&cfg.status_tls_key, key)) ||
	    (sink && config_set(&cfg.sink_dir, sink)) ||
	    (maddr && config_set(&cfg.metrics_addr, maddr)))
		goto out;
	if (!cfg.status_tls_cert || !*cfg.status_tls_cert || !cfg.status_tls_key ||
	    !*cfg.status_tls_key) {
		log_error(
		    "armorsmith-status serves HTTPS only and needs a PEM certificate and key: "
		    "--tls-cert/--tls-key, status.tls_cert/status.tls_key or "
		    "ARMORSMITH_STATUS_TLS_CERT/ARMORSMITH_STATUS_TLS_KEY");
		rc = 2;
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* Before any thread: libcurl's global state is not thread-safe to set up. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	metrics_init("status", 60);
	if (cfg.metrics_addr && *cfg.metrics_addr) {
		if (metrics_serve(cfg.metrics_addr, &metrics, err, sizeof(err)) < 0) {
			log_error("%s", err);
			goto out;
		}
		log_info("serving /healthz and /metrics on http://%s", cfg.metrics_addr);
	}
	if (kube_client_new(&kube, err, sizeof(err)) < 0) {
		log_error("cannot configure the kubernetes client: %s", err);
		goto out;
	}
	{
		struct status_api_options o = {.kube = kube, .sink_dir = cfg.sink_dir};
		if (status_api_new(&o, &api) < 0) {
			log_error("out of memory");
			goto out;
		}
	}
	{
		struct httpd_options o = {
		    .addr = cfg.status_addr,
		    .tls_cert = cfg.status_tls_cert,
		    .tls_key = cfg.status_tls_key,
		    .max_body = (size_t)max_body_mib << 20,
		    .handler = status_api_handle,
		    .ctx = api,
		};
		if (httpd_start(&o, &server, err, sizeof(err)) < 0) {
			log_error("%s", err);
			goto out;
		}
	}
	log_info("serving the status API on https://%s (port %u), local-disk data in %s",
		 cfg.status_addr, httpd_port(server), cfg.sink_dir);
	for (unsigned tick = 0; !status_stop; tick++) {
		if (tick % STATUS_CHECK_EVERY_S == 0)
			status_check_kube(kube);
		metrics_health_tick();
		sleep(1);
	}
	log_info("stopping");
	rc = 0;
out:
	httpd_stop(server);
	httpd_stop(metrics);
	status_api_free(api);
	kube_client_free(kube);
	config_free(&cfg);
	return rc;
}
