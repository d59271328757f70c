/* `armorsmith advise`: vArmor's Policy Advisor over an ArmorProfileModel
 * (which built-in rules the workload can live with), and securityContext
 * minimization from the same behavior data. Works offline on model files. */
#include "behavior_data.h"
#include "catalogue.h"
#include "evaluate.h"
#include "kube.h"
#include "log.h"
#include "secctx.h"
#include "template.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_advise(int argc, char **argv);

static void advise_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith advise ENFORCERS [-f FEATURES] [-c CAPABILITIES] [-m MODEL.json] "
	    "[-d]\n"
	    "       armorsmith advise --security-context -m MODEL.json [--container NAME]...\n"
	    "\n"
	    "Prints a .spec.policy template in EnhanceProtect mode with the built-in rules\n"
	    "that fit the workload, with the semantics of vArmor's Policy Advisor; or, with\n"
	    "--security-context, the tightest securityContext its behavior still allows,\n"
	    "as a strategic merge patch for a Deployment.\n"
	    "\n"
	    "  ENFORCERS             the enforcers of the environment, comma-separated:\n"
	    "                        AppArmor, BPF, Seccomp (e.g. AppArmor,BPF,Seccomp)\n"
	    "  -f FEATURES           the workload's features, comma-separated:\n"
	    "                        privileged-container, mount-sth, umount-sth,\n"
	    "                        share-containers-pid-ns, share-host-pid-ns, dind,\n"
	    "                        require-sa, bind-privileged-socket-port, load-bpf\n"
	    "  -c CAPABILITIES       capabilities the workload needs, comma-separated,\n"
	    "                        without CAP_ (e.g. sys_admin,net_admin)\n"
	    "  -m MODEL.json         an ArmorProfileModel in JSON (kubectl get -o json, the\n"
	    "                        status API, or armorsmith model's output)\n"
	    "  --kube NS/NAME        read the ArmorProfileModel NAME in namespace NS from the\n"
	    "                        Kubernetes API instead (in-cluster service account, or\n"
	    "                        $KUBECONFIG / ~/.kube/config, current context)\n"
	    "  -d                    explain every decision, citing the input behind it\n"
	    "  --rules FILE          the rule catalogue (default: the shipped copy,\n"
	    "                        or $ARMORSMITH_ADVISOR_RULES)\n"
	    "  --no-bpf-data         judge only by apparmor and seccomp data, as vArmor does\n"
	    "\n"
	    "  --security-context    propose a securityContext patch instead (needs -m)\n"
	    "  --container NAME      a container to patch (repeatable; default: a\n"
	    "                        CONTAINER placeholder to replace)\n"
	    "  --volume PATH         a path that is a volume already (repeatable): writes\n"
	    "                        there do not stop readOnlyRootFilesystem\n"
	    "  --exec-root DIR       look executed files up under DIR (default /) to read\n"
	    "                        their setuid/setgid bits and file capabilities\n"
	    "  --no-exec-check       do not look at executed files on this machine\n");
}

enum {
	OPT_KUBE = 255,
	OPT_RULES = 256,
	OPT_NO_BPF,
	OPT_SECCTX,
	OPT_CONTAINER,
	OPT_VOLUME,
	OPT_EXEC_ROOT,
	OPT_NO_EXEC
};

struct advise_opts {
	const char *enforcers, *features, *capabilities, *model, *rules, *exec_root;
	const char *kube_ref; /* NS/NAME of an ArmorProfileModel in the Kubernetes API */
	bool debug, no_bpf, security_context, no_exec_check;
	struct strlist containers, volumes;
};

/* A container name must be a DNS-1123 label to be patched by name. */
static bool dns_label(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int parse_args(int argc, char **argv, struct advise_opts *o)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"rules", required_argument, NULL, OPT_RULES},
	    {"kube", required_argument, NULL, OPT_KUBE},
	    {"no-bpf-data", no_argument, NULL, OPT_NO_BPF},
	    {"security-context", no_argument, NULL, OPT_SECCTX},
	    {"container", required_argument, NULL, OPT_CONTAINER},
	    {"volume", required_argument, NULL, OPT_VOLUME},
	    {"exec-root", required_argument, NULL, OPT_EXEC_ROOT},
	    {"no-exec-check", no_argument, NULL, OPT_NO_EXEC},
	    {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:c:m:dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->features = optarg;
			break;
		case 'c':
			o->capabilities = optarg;
			break;
		case 'm':
			o->model = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'h':
			advise_usage(stdout);
			return 1;
		case OPT_RULES:
			o->rules = optarg;
			break;
		case OPT_KUBE:
			o->kube_ref = optarg;
			o->model = optarg; /* a label for messages; loaded by load_model() */
			break;
		case OPT_NO_BPF:
			o->no_bpf = true;
			break;
		case OPT_SECCTX:
			o->security_context = true;
			break;
		case OPT_CONTAINER:
			if (!dns_label(optarg)) {
				log_error("advise: --container '%s' is not a container name "
					  "(a DNS-1123 label)",
					  optarg);
				return -EINVAL;
			}
			if (strlist_add(&o->containers, optarg))
				return -ENOMEM;
			break;
		case OPT_VOLUME:
			if (optarg[0] != '/') {
				log_error("advise: --volume '%s' is not an absolute path", optarg);
				return -EINVAL;
			}
			if (strlist_add(&o->volumes, optarg))
				return -ENOMEM;
			break;
		case OPT_EXEC_ROOT:
			o->exec_root = optarg;
			break;
		case OPT_NO_EXEC:
			o->no_exec_check = true;
			break;
		default:
			advise_usage(stderr);
			return -EINVAL;
		}
	}
	if (o->security_context) {
		if (!o->model) {
			log_error("advise: --security-context needs a model (-m MODEL.json)");
			return -EINVAL;
		}
		if (optind < argc) {
			log_error("advise: unexpected argument '%s' with --security-context",
				  argv[optind]);
			return -EINVAL;
		}
		return 0;
	}
	if (optind != argc - 1) {
		log_error("advise: %s", optind < argc
					    ? "one ENFORCERS argument expected"
					    : "missing ENFORCERS (e.g. AppArmor,BPF,Seccomp)");
		advise_usage(stderr);
		return -EINVAL;
	}
	o->enforcers = argv[optind];
	return 0;
}

/* The model from a file, or from the Kubernetes API with --kube NS/NAME. */
static int load_model(const struct advise_opts *o, struct behavior_data *bd, char *err,
		      size_t errlen)
{
	struct kube_client *kc = NULL;
	const char *slash = o->kube_ref ? strchr(o->kube_ref, '/') : NULL;
	char path[600], label[400];
	json_t *obj = NULL;
	long status = 0;
	int ret;

	if (!o->kube_ref)
		return behavior_data_load(o->model, bd, err, errlen);
	if (!slash || slash == o->kube_ref || !slash[1] || strchr(slash + 1, '/') ||
	    strlen(o->kube_ref) > 300) {
		snprintf(err, errlen, "--kube '%s' is not NAMESPACE/NAME", o->kube_ref);
		return -EINVAL;
	}
	snprintf(path, sizeof(path),
		 "/apis/crd.varmor.org/v1beta1/namespaces/%.*s/armorprofilemodels/%s",
		 (int)(slash - o->kube_ref), o->kube_ref, slash + 1);
	ret = kube_client_new(&kc, err, errlen);
	if (!ret)
		ret = kube_request(kc, "GET", path, NULL, &status, &obj, err, errlen);
	if (!ret) {
		snprintf(label, sizeof(label), "armorprofilemodel %s", o->kube_ref);
		ret = behavior_data_parse(obj, label, bd, err, errlen);
	}
	json_decref(obj);
	kube_client_free(kc);
	return ret;
}

static int run_security_context(struct advise_opts *o)
{
	struct secctx_options so = {0};
	struct secctx_proposal p = {0};
	struct behavior_data bd = {0};
	char err[512] = "";
	int ret;

	ret = load_model(o, &bd, err, sizeof(err));
	if (ret) {
		log_error("advise: %s", err);
		goto cleanup;
	}
	so.containers = o->containers;
	so.volumes = o->volumes;
	so.exec_root = o->no_exec_check ? NULL : o->exec_root ? o->exec_root : "/";
	ret = secctx_propose(&bd, &so, &p);
	if (!ret)
		ret = secctx_print_patch(stdout, &bd, &so, &p);
	if (ret)
		log_error("advise: cannot write the securityContext patch for %s: %s", o->model,
			  strerror(-ret));
	if (!ret && !p.have_lsm_data)
		log_warn("advise: %s has no AppArmor or BPF behavior data; capabilities, "
			 "allowPrivilegeEscalation and readOnlyRootFilesystem are not proposed",
			 o->model);

cleanup:
	secctx_proposal_free(&p);
	behavior_data_free(&bd);
	return ret;
}

static int run_advisor(struct advise_opts *o)
{
	static const char *const known[] = {"apparmor", "bpf", "seccomp"};
	struct advisor_catalogue cat = {0};
	struct advisor_context ctx = {.use_bpf = !o->no_bpf};
	struct advisor_result res = {0};
	struct behavior_data bd = {0};
	const char *rules = o->rules ? o->rules : advisor_catalogue_default_path();
	char err[512] = "";
	int ret;

	ret = advisor_parse_list(o->enforcers, &ctx.enforcers);
	if (!ret)
		ret = advisor_parse_list(o->features, &ctx.features);
	if (!ret)
		ret = advisor_parse_list(o->capabilities, &ctx.capabilities);
	if (ret)
		goto cleanup;
	for (size_t i = 0; i < ctx.enforcers.len; i++) {
		bool ok = false;

		for (size_t k = 0; k < 3; k++)
			ok |= strcmp(ctx.enforcers.items[i], known[k]) == 0;
		if (!ok)
			log_warn("advise: unknown enforcer '%s' (AppArmor, BPF, Seccomp)",
				 ctx.enforcers.items[i]);
	}
	ret = advisor_catalogue_load(rules, &cat, err, sizeof(err));
	if (ret) {
		log_error("advise: %s", err);
		goto cleanup;
	}
	if (o->model) {
		ret = load_model(o, &bd, err, sizeof(err));
		if (ret) {
			log_error("advise: %s", err);
			goto cleanup;
		}
		ctx.model = &bd;
		if (!bd.capabilities.n && !bd.executions.n && !bd.n_files)
			log_warn("advise: %s has no capability, execution or file data%s%s%s: "
				 "rules that conflict with those are kept as vArmor keeps them",
				 o->model, bd.enforcer ? " (enforcer " : "",
				 bd.enforcer ? bd.enforcer : "", bd.enforcer ? ")" : "");
	}
	ret = advisor_evaluate(&cat, &ctx, &res);
	if (!ret && o->debug)
		ret = advisor_print_explanations(stdout, &ctx, &res);
	if (!ret)
		ret = advisor_print_template(stdout, &res);
	if (ret)
		log_error("advise: cannot produce the policy template: %s", strerror(-ret));

cleanup:
	advisor_result_free(&res);
	behavior_data_free(&bd);
	advisor_catalogue_free(&cat);
	strlist_free(&ctx.enforcers);
	strlist_free(&ctx.features);
	strlist_free(&ctx.capabilities);
	return ret;
}

int cli_advise(int argc, char **argv)
{
	struct advise_opts o = {0};
	int ret, rc;

	ret = parse_args(argc, argv, &o);
	if (ret) {
		rc = ret == 1 ? 0 : 2; /* --help, or a usage error */
		goto cleanup;
	}
	ret = o.security_context ? run_security_context(&o) : run_advisor(&o);
	rc = ret ? 1 : 0;

cleanup:
	strlist_free(&o.containers);
	strlist_free(&o.volumes);
	return rc;
}
