/* Rule evaluation on hand-built models: each conflict kind, the context
 * filters, the category flow, and malformed catalogues and models. */
#include "behavior_data.h"
#include "catalogue.h"
#include "evaluate.h"
#include "template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

static char source_dir[2048] = ".";
static char tmpdir[] = "/tmp/advisor_test.XXXXXX";

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static const char *write_tmp(const char *name, const char *text)
{
	static char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

static int load_shipped(struct advisor_catalogue *cat)
{
	char path[4200], err[512] = "";
	int ret;

	snprintf(path, sizeof(path), "%s/data/policy-advisor/built-in-rules.json", source_dir);
	ret = advisor_catalogue_load(path, cat, err, sizeof(err));
	if (ret)
		fprintf(stderr, "%s\n", err);
	return ret;
}

/* A model with the given data.dynamicResult JSON. */
static int model_from(const char *dynamic_result, struct behavior_data *bd)
{
	char text[8192], err[512] = "";
	json_error_t jerr;
	json_t *root;
	int ret;

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"crd.varmor.org/v1beta1\",\"kind\":\"ArmorProfileModel\","
		 "\"metadata\":{\"name\":\"m\",\"namespace\":\"ns\"},"
		 "\"data\":{\"dynamicResult\":%s,\"profile\":{\"name\":\"m\",\"enforcer\":"
		 "\"AppArmorSeccomp\"}}}",
		 dynamic_result);
	root = json_loads(text, 0, &jerr);
	if (!root) {
		fprintf(stderr, "bad test model: %s\n", jerr.text);
		return -EINVAL;
	}
	ret = behavior_data_parse(root, "test", bd, err, sizeof(err));
	if (ret)
		fprintf(stderr, "%s\n", err);
	json_decref(root);
	return ret;
}

static const struct advisor_decision *decision(const struct advisor_result *res, const char *id)
{
	for (size_t i = 0; i < res->n_decisions; i++)
		if (strcmp(res->decisions[i].rule->id, id) == 0)
			return &res->decisions[i];
	return NULL;
}

static bool kept(const struct advisor_result *res, const char *id)
{
	const struct advisor_decision *d = decision(res, id);

	return d && d->verdict == ADVISOR_KEPT;
}

/* The reason of id's decision contains what. */
static bool reason_has(const struct advisor_result *res, const char *id, const char *what)
{
	const struct advisor_decision *d = decision(res, id);

	if (!d || !strstr(d->reason, what)) {
		fprintf(stderr, "  %s: reason \"%s\" lacks \"%s\"\n", id, d ? d->reason : "(none)",
			what);
		return false;
	}
	return true;
}

static int evaluate(const struct advisor_catalogue *cat, const char *enforcers,
		    const char *features, const char *caps, const struct behavior_data *bd,
		    struct advisor_result *res)
{
	struct advisor_context ctx = {.model = bd, .use_bpf = true};
	int ret;

	ret = advisor_parse_list(enforcers, &ctx.enforcers);
	if (!ret)
		ret = advisor_parse_list(features, &ctx.features);
	if (!ret)
		ret = advisor_parse_list(caps, &ctx.capabilities);
	if (!ret)
		ret = advisor_evaluate(cat, &ctx, res);
	strlist_free(&ctx.enforcers);
	strlist_free(&ctx.features);
	strlist_free(&ctx.capabilities);
	return ret;
}

static void test_shipped_catalogue_is_the_contract(void)
{
	char ours[4200], theirs[4200];
	char *a, *b;

	snprintf(ours, sizeof(ours), "%s/data/policy-advisor/built-in-rules.json", source_dir);
	snprintf(theirs, sizeof(theirs),
		 "%s/../shared/contracts/policy-advisor/built-in-rules.json", source_dir);
	a = slurp(ours);
	b = slurp(theirs);
	CHECK(a != NULL);
	if (!b)
		printf("skip: no %s to compare with\n", theirs);
	else
		CHECK(a && strcmp(a, b) == 0);
	free(a);
	free(b);
}

static void test_catalogue_shape(const struct advisor_catalogue *cat)
{
	CHECK(cat->n_rules[ADVISOR_ESCAPE_PATTERN] == 13);
	CHECK(cat->n_rules[ADVISOR_CAPABILITY_SET] == 3);
	CHECK(cat->n_rules[ADVISOR_CAPABILITY] == 41);
	CHECK_STR(cat->rules[ADVISOR_SENSITIVE_OPERATIONS][2].id, "disable-shell");
	CHECK(cat->rules[ADVISOR_VULNERABILITY_MITIGATION][2].has_applicable);
	CHECK_STR(advisor_category_name(ADVISOR_INFORMATION_LEAK), "information_leak");
}

static void test_without_model(const struct advisor_catalogue *cat)
{
	struct advisor_result res;

	CHECK(evaluate(cat, "AppArmor,BPF,Seccomp", "", "", NULL, &res) == 0);
	CHECK_STR(res.enforcer, "AppArmorBPFSeccomp");
	CHECK(!res.privileged);
	CHECK(kept(&res, "disallow-mount") && kept(&res, "disallow-umount"));
	CHECK(reason_has(&res, "disallow-mount", "feature * (wildcard)"));
	/* opt-in escape rules need a feature or capability */
	CHECK(!kept(&res, "disallow-mount-securityfs"));
	CHECK(reason_has(&res, "disallow-mount-securityfs", "not applicable"));
	/* the first capability set wins and covers the single rules */
	CHECK(kept(&res, "disable-cap-all"));
	CHECK(decision(&res, "disable-cap-privileged")->verdict == ADVISOR_NOT_EVALUATED);
	CHECK(decision(&res, "disable-cap-kill")->verdict == ADVISOR_NOT_EVALUATED);
	/* no sensitive-operation rule without a model */
	CHECK(decision(&res, "disable-shell")->verdict == ADVISOR_NOT_EVALUATED);
	CHECK(reason_has(&res, "disable-shell", "no behavior model"));
	/* vArmor's empty "applicable" makes dirty-pipe-mitigation opt-in forever */
	CHECK(!kept(&res, "dirty-pipe-mitigation"));
	CHECK(reason_has(&res, "dirty-pipe-mitigation", "\"applicable\" is empty"));
	CHECK(res.hardening_rules.len == 8);
	CHECK(res.attack_protection_rules.len == 5);
	CHECK(res.vul_mitigation_rules.len == 3);
	advisor_result_free(&res);
}

static void test_context_conflicts(const struct advisor_catalogue *cat)
{
	struct advisor_result res;

	/* enforcers: seccomp rules need the seccomp enforcer */
	CHECK(evaluate(cat, "AppArmor", "", "", NULL, &res) == 0);
	CHECK_STR(res.enforcer, "AppArmor");
	CHECK(!kept(&res, "disallow-create-user-ns"));
	CHECK(reason_has(&res, "disallow-create-user-ns", "enforcers [seccomp]"));
	advisor_result_free(&res);

	/* features and capabilities given on the command line (case folded) */
	CHECK(evaluate(cat, "apparmor,BPF", "Mount-Sth,share-containers-pid-ns", "NET_RAW", NULL,
		       &res) == 0);
	CHECK(!kept(&res, "disallow-mount"));
	CHECK(reason_has(&res, "disallow-mount", "feature mount-sth (given with -f)"));
	CHECK(kept(&res, "disallow-mount-procfs"));
	CHECK(
	    reason_has(&res, "disallow-mount-procfs", "applicable through the feature mount-sth"));
	CHECK(kept(&res, "disallow-access-procfs-root"));
	/* mount-sth conflicts with every capability set: single rules instead */
	CHECK(!kept(&res, "disable-cap-all") && !kept(&res, "disable-cap-privileged"));
	CHECK(!kept(&res, "disable-cap-net-raw"));
	CHECK(reason_has(&res, "disable-cap-net-raw", "capability net_raw (given with -c)"));
	CHECK(kept(&res, "disable-cap-kill"));
	CHECK(!kept(&res, "disable-cap-sys-admin"));
	advisor_result_free(&res);

	/* privileged containers keep their capabilities */
	CHECK(evaluate(cat, "AppArmor,BPF", "privileged-container", "", NULL, &res) == 0);
	CHECK(res.privileged);
	CHECK(kept(&res, "disallow-insmod") && kept(&res, "disallow-load-bpf-prog"));
	CHECK(decision(&res, "disable-cap-all")->verdict == ADVISOR_NOT_EVALUATED);
	CHECK(reason_has(&res, "disable-cap-all", "privileged-container"));
	advisor_result_free(&res);

	/* nothing kept: no enforcer in the template */
	CHECK(evaluate(cat, "selinux", "", "", NULL, &res) == 0);
	CHECK_STR(res.enforcer, "");
	CHECK(res.hardening_rules.len == 0);
	advisor_result_free(&res);
}

static void test_behavior_conflicts(const struct advisor_catalogue *cat)
{
	struct advisor_result res;
	struct behavior_data bd;

	/* capabilities, syscalls, executions by name, files with permissions */
	CHECK(model_from("{\"apparmor\":{\"capabilities\":[\"net_bind_service\"],"
			 "\"executions\":[\"/usr/bin/bash\",\"/opt/curl\"],"
			 "\"files\":[{\"path\":\"/etc/passwd\",\"permissions\":[\"r\"]},"
			 "{\"path\":\"/etc/app.conf\",\"permissions\":[\"a\"]},"
			 "{\"path\":\"/proc/kallsyms\",\"permissions\":[\"w\"]},"
			 "{\"path\":\"/proc/1/mountinfo\",\"permissions\":[\"r\"]}]},"
			 "\"seccomp\":{\"syscalls\":[\"read\",\"unshare\",\"splice\"]}}",
			 &bd) == 0);
	CHECK(evaluate(cat, "AppArmor,BPF,Seccomp", "", "", &bd, &res) == 0);
	CHECK(!kept(&res, "disable-cap-all"));
	CHECK(reason_has(
	    &res, "disable-cap-all",
	    "capability net_bind_service (data.dynamicResult.apparmor.capabilities[0])"));
	CHECK(kept(&res, "disable-cap-all-except-net-bind-service"));
	CHECK(!kept(&res, "disallow-create-user-ns"));
	CHECK(reason_has(&res, "disallow-create-user-ns",
			 "syscall unshare (data.dynamicResult.seccomp.syscalls[1])"));
	CHECK(kept(&res, "disallow-userfaultfd-creation"));
	CHECK(!kept(&res, "disable-shell"));
	CHECK(reason_has(&res, "disable-shell", "executed /usr/bin/bash, which matches \"bash\""));
	CHECK(!kept(&res, "disable-curl"));
	CHECK(kept(&res, "disable-wget"));
	CHECK(!kept(&res, "disable-write-etc"));
	CHECK(reason_has(&res, "disable-write-etc", "/etc/app.conf with permission a"));
	/* the path matches, the permission does not: r is needed */
	CHECK(!kept(&res, "mitigate-disk-device-number-leak"));
	CHECK(!kept(&res, "mitigate-overlayfs-leak"));
	CHECK(kept(&res, "mitigate-host-ip-leak"));
	advisor_result_free(&res);
	behavior_data_free(&bd);

	/* a path-matching file without a matching permission is no conflict */
	CHECK(model_from("{\"apparmor\":{\"files\":[{\"path\":\"/proc/kallsyms\","
			 "\"permissions\":[\"w\"]}]}}",
			 &bd) == 0);
	CHECK(evaluate(cat, "AppArmor", "", "syslog", &bd, &res) == 0);
	CHECK(kept(&res, "disallow-access-kallsyms"));
	CHECK(reason_has(&res, "disallow-access-kallsyms", "capability syslog (given with -c)"));
	advisor_result_free(&res);
	behavior_data_free(&bd);

	/* oldPath, when present, is what vArmor matches (not path) */
	CHECK(model_from(
		  "{\"apparmor\":{\"files\":["
		  "{\"path\":\"/etc/app.conf\",\"permissions\":[\"w\"],"
		  "\"oldPath\":\"/tmp/app.new\"},"
		  "{\"path\":\"/tmp/x\",\"permissions\":[\"w\"],\"oldPath\":\"/usr/bin/runc\"},"
		  "{\"path\":\"/tmp/y\",\"permissions\":[\"r\"],\"oldPath\":\"\"}]}}",
		  &bd) == 0);
	CHECK(evaluate(cat, "AppArmor", "", "", &bd, &res) == 0);
	CHECK(kept(&res, "disable-write-etc"));
	CHECK(!kept(&res, "runc-override-mitigation"));
	CHECK(reason_has(&res, "runc-override-mitigation", "/usr/bin/runc (oldPath of /tmp/x)"));
	advisor_result_free(&res);
	behavior_data_free(&bd);
}

static void test_bpf_data(const struct advisor_catalogue *cat)
{
	struct advisor_context ctx = {.use_bpf = true};
	struct advisor_result res;
	struct behavior_data bd;

	CHECK(
	    model_from("{\"bpf\":{\"executions\":[\"/bin/dash\"],\"capabilities\":[\"kill\"],"
		       "\"files\":[{\"path\":\"/etc/x\",\"permissions\":[\"write\"]}],"
		       "\"mounts\":[{\"path\":\"/mnt\",\"type\":\"tmpfs\",\"flags\":[\"nosuid\"]},"
		       "{\"path\":\"/mnt\",\"flags\":[\"umount\"]}]}}",
		       &bd) == 0);
	CHECK(bd.has_bpf && !bd.has_apparmor && bd.n_mounts == 2 && bd.mounts[1].umount);
	CHECK(evaluate(cat, "AppArmor,BPF", "", "", &bd, &res) == 0);
	CHECK(!kept(&res, "disable-shell"));
	CHECK(reason_has(&res, "disable-shell", "data.dynamicResult.bpf.executions[0]"));
	CHECK(!kept(&res, "disable-write-etc"));
	CHECK(reason_has(&res, "disable-write-etc", "permission w"));
	CHECK(!kept(&res, "disallow-mount") && !kept(&res, "disallow-umount"));
	CHECK(reason_has(&res, "disallow-mount", "derived from bpf.mounts"));
	CHECK(kept(&res, "disallow-mount-securityfs"));
	CHECK(!kept(&res, "disable-cap-kill"));
	CHECK(res.derived_features.len == 2);
	advisor_result_free(&res);

	/* --no-bpf-data: vArmor's view, which ignores data.dynamicResult.bpf */
	CHECK(advisor_parse_list("AppArmor,BPF", &ctx.enforcers) == 0);
	ctx.model = &bd;
	ctx.use_bpf = false;
	CHECK(advisor_evaluate(cat, &ctx, &res) == 0);
	CHECK(kept(&res, "disable-shell") && kept(&res, "disallow-mount"));
	CHECK(kept(&res, "disable-cap-all"));
	advisor_result_free(&res);
	strlist_free(&ctx.enforcers);
	behavior_data_free(&bd);
}

/* Rule kinds the contract does not exercise: wildcards and extensions. */
static void test_custom_catalogue(void)
{
	struct advisor_catalogue cat;
	struct advisor_result res;
	struct behavior_data bd;
	char err[512] = "";
	const char *path;

	path =
	    write_tmp("custom.json",
		      "{\"escape_pattern\":[],\"capability_set\":[],\"capability\":[],"
		      "\"blocking_exploit_vectors\":[{\"id\":\"any-cap\",\"enforcers\":[\"bpf\"],"
		      "\"conflicts\":{\"capabilities\":[\"*\"]}}],"
		      "\"information_leak\":[],\"vulnerability_mitigation\":[],"
		      "\"sensitive_operations\":[{\"id\":\"no-scripts\",\"enforcers\":[\"bpf\"],"
		      "\"conflicts\":{\"executions\":[\".sh\"]}},"
		      "{\"id\":\"no-proc-root\",\"enforcers\":[\"*\"],"
		      "\"conflicts\":{\"files\":[{\"path_regex\":\"/proc/.*/root$\","
		      "\"permissions\":[\"*\"]}]}}]}");
	CHECK(advisor_catalogue_load(path, &cat, err, sizeof(err)) == 0);
	CHECK(model_from("{\"apparmor\":{\"executions\":[\"/entry.sh\",\"/.sh\"],"
			 "\"files\":[{\"path\":\"/proc/1/root\",\"permissions\":[\"k\"]}]}}",
			 &bd) == 0);
	CHECK(evaluate(&cat, "bpf", "", "", &bd, &res) == 0);
	CHECK(!kept(&res, "any-cap"));
	CHECK(reason_has(&res, "any-cap", "any capability (\"*\")"));
	CHECK(!kept(&res, "no-scripts"));
	CHECK(reason_has(&res, "no-scripts", "executed /entry.sh, which matches \".sh\""));
	/* "*" among the rule's enforcers matches nothing: vArmor only honours
	 * the wildcard in the given list */
	CHECK(!kept(&res, "no-proc-root"));
	CHECK(reason_has(&res, "no-proc-root", "enforcers [*]"));
	advisor_result_free(&res);
	CHECK(evaluate(&cat, "*", "", "", &bd, &res) == 0);
	CHECK(reason_has(&res, "no-proc-root", "permission *"));
	advisor_result_free(&res);
	behavior_data_free(&bd);
	advisor_catalogue_free(&cat);
}

static void expect_catalogue_error(const char *text, const char *what)
{
	struct advisor_catalogue cat;
	char err[512] = "";
	const char *path = write_tmp("bad.json", text);

	CHECK(advisor_catalogue_load(path, &cat, err, sizeof(err)) == -EINVAL);
	if (!strstr(err, what)) {
		fprintf(stderr, "  catalogue error \"%s\" lacks \"%s\"\n", err, what);
		CHECK(false);
	}
}

static void test_malformed_catalogues(void)
{
	struct advisor_catalogue cat;
	char err[512] = "";

	CHECK(advisor_catalogue_load("/nonexistent/rules.json", &cat, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "/nonexistent/rules.json") != NULL);
	expect_catalogue_error("{", "not valid JSON");
	expect_catalogue_error("[]", "not a JSON object");
	expect_catalogue_error("{\"escape_pattern\":[]}", "no \"capability_set\" list");
	expect_catalogue_error("{\"whatever\":[]}", "unknown rule category \"whatever\"");
	expect_catalogue_error("{\"escape_pattern\":[{\"enforcers\":[]}]}",
			       "escape_pattern[0] has no id");
	expect_catalogue_error("{\"escape_pattern\":[{\"id\":\"x\"}]}",
			       "(x) has no enforcers list");
	expect_catalogue_error("{\"escape_pattern\":[{\"id\":\"x\",\"enforcers\":[1]}]}",
			       "enforcers[0] is not a string");
	expect_catalogue_error("{\"escape_pattern\":[{\"id\":\"x\",\"enforcers\":[],"
			       "\"conflicts\":{\"mounts\":[]}}]}",
			       "unknown kind \"mounts\"");
	expect_catalogue_error(
	    "{\"escape_pattern\":[{\"id\":\"x\",\"enforcers\":[],"
	    "\"conflicts\":{\"files\":[{\"path_regex\":\"(\",\"permissions\":[]}]}}]}",
	    "does not compile");
	expect_catalogue_error("{\"escape_pattern\":[{\"id\":\"x\",\"enforcers\":[],"
			       "\"conflicts\":{\"files\":[{\"path_regex\":\"a\"}]}}]}",
			       "has no permissions list");
	expect_catalogue_error("{\"escape_pattern\":[{\"id\":\"x\",\"enforcers\":[],"
			       "\"applicable\":[]}]}",
			       "applicable is not an object");
}

static void expect_model_error(const char *text, const char *what)
{
	struct behavior_data bd;
	char err[512] = "";
	const char *path = write_tmp("model.json", text);

	CHECK(behavior_data_load(path, &bd, err, sizeof(err)) == -EINVAL);
	if (!strstr(err, what)) {
		fprintf(stderr, "  model error \"%s\" lacks \"%s\"\n", err, what);
		CHECK(false);
	}
}

static void test_malformed_models(void)
{
	struct behavior_data bd;
	char err[512] = "";

	CHECK(behavior_data_load("/nonexistent/m.json", &bd, err, sizeof(err)) == -ENOENT);
	expect_model_error("", "not valid JSON");
	expect_model_error("{\"data\":", "not valid JSON");
	expect_model_error("[1,2]", "not a JSON object");
	expect_model_error("{\"kind\":\"Pod\",\"data\":{}}",
			   "kind is \"Pod\", not ArmorProfileModel");
	expect_model_error("{\"kind\":7}", "kind is not a string");
	expect_model_error("{\"kind\":\"ArmorProfileModel\"}", "no data object");
	expect_model_error("{\"data\":{\"profile\":{}}}", "no data.dynamicResult");
	expect_model_error("{\"data\":{},\"storageType\":\"LocalDisk\"}", "status API");
	expect_model_error("{\"data\":{\"dynamicResult\":{\"apparmor\":[]}}}",
			   "data.dynamicResult.apparmor is not an object");
	expect_model_error("{\"data\":{\"dynamicResult\":{\"appArmor\":{}}}}", "later vArmor");
	expect_model_error("{\"data\":{\"dynamicResult\":{\"seccomp\":{\"syscalls\":\"read\"}}}}",
			   "seccomp.syscalls is not a list of strings");
	expect_model_error("{\"data\":{\"dynamicResult\":{\"apparmor\":{\"executions\":[1]}}}}",
			   "apparmor.executions[0] is not a string");
	expect_model_error("{\"data\":{\"dynamicResult\":{\"apparmor\":{\"files\":[{}]}}}}",
			   "files[0] has no path string");
	expect_model_error(
	    "{\"data\":{\"dynamicResult\":{\"bpf\":{\"files\":[{\"path\":\"/a\"}]}}}}",
	    "bpf.files[0] (/a) has no permissions list");
	expect_model_error(
	    "{\"data\":{\"dynamicResult\":{\"apparmor\":{\"files\":[{\"path\":\"/a\","
	    "\"permissions\":[\"r\"],\"oldPath\":5}]}}}}",
	    "files[0].oldPath is not a string");
	expect_model_error("{\"data\":{\"dynamicResult\":{\"bpf\":{\"mounts\":[{}]}}}}",
			   "bpf.mounts[0] has no path string");

	/* the smallest usable model: empty behavior data */
	CHECK(model_from("{}", &bd) == 0);
	CHECK(!bd.has_apparmor && !bd.has_bpf && !bd.has_seccomp);
	CHECK_STR(bd.name, "m");
	behavior_data_free(&bd);
}

static void test_template_output(const struct advisor_catalogue *cat)
{
	struct advisor_result res;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	CHECK(evaluate(cat, "Seccomp", "", "", NULL, &res) == 0);
	f = open_memstream(&out, &len);
	CHECK(f && advisor_print_template(f, &res) == 0);
	fclose(f);
	CHECK(out &&
	      strstr(out, "\n------------------ Template (json) ------------------\n\n{\n"
			  "  \"enforcer\": \"Seccomp\",\n  \"mode\": \"EnhanceProtect\",\n"));
	CHECK(out && strstr(out, "\"rules\": [],\n        \"targets\": []\n      }\n    ],\n"
				 "    \"vulMitigationRules\": []\n  }\n}\n"));
	CHECK(out && strstr(out, "enforcer: Seccomp\nenhanceProtect:\n  attackProtectionRules:\n"
				 "  - rules: []\n    targets: []\n  hardeningRules:\n"
				 "  - disallow-create-user-ns\n"));
	CHECK(out && strstr(out, "  privileged: false\n  vulMitigationRules: []\n"
				 "mode: EnhanceProtect\n\n"));
	free(out);
	out = NULL;
	advisor_result_free(&res);

	CHECK(evaluate(cat, "none", "", "", NULL, &res) == 0);
	f = open_memstream(&out, &len);
	CHECK(f && advisor_print_template(f, &res) == 0);
	fclose(f);
	CHECK(out && strstr(out, "enforcer: ''\n"));
	free(out);
	advisor_result_free(&res);
}

int main(void)
{
	struct advisor_catalogue cat;
	const char *src = getenv("ARMORSMITH_SOURCE_DIR");

	if (src)
		snprintf(source_dir, sizeof(source_dir), "%s", src);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_shipped_catalogue_is_the_contract();
	CHECK(load_shipped(&cat) == 0);
	test_catalogue_shape(&cat);
	test_without_model(&cat);
	test_context_conflicts(&cat);
	test_behavior_conflicts(&cat);
	test_bpf_data(&cat);
	test_custom_catalogue();
	test_malformed_catalogues();
	test_malformed_models();
	test_template_output(&cat);
	advisor_catalogue_free(&cat);
	unlink(write_tmp("custom.json", ""));
	unlink(write_tmp("bad.json", ""));
	unlink(write_tmp("model.json", ""));
	rmdir(tmpdir);
	return TEST_SUMMARY();
}
