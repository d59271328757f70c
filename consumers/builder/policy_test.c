#include "policy.h"
#include "testing.h"

#include <errno.h>
#include <string.h>

#define MIN_NS (60LL * 1000000000LL)

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);

	if (!o)
		fprintf(stderr, "bad fixture: %s\n", e.text);
	return o;
}

/* The seed's VarmorClusterPolicy demo-4. */
static const char *seed_cluster =
    "{\"apiVersion\":\"crd.varmor.org/v1beta1\",\"kind\":\"VarmorClusterPolicy\","
    "\"metadata\":{\"name\":\"demo-4\",\"uid\":\"u-1\"},"
    "\"spec\":{\"updateExistingWorkloads\":true,"
    "\"target\":{\"kind\":\"Deployment\",\"selector\":{\"matchLabels\":{\"app\":\"demo-4\"}}},"
    "\"policy\":{\"enforcer\":\"AppArmorSeccomp\",\"mode\":\"BehaviorModeling\","
    "\"modelingOptions\":{\"duration\":30}}}}";

static void test_seed_cluster_policy(void)
{
	json_t *o = load(seed_cluster);
	struct policy p;
	char err[256];

	CHECK(policy_from_json(o, "varmor", &p, err, sizeof(err)) == 0);
	CHECK_STR(p.profile_name, "varmor-cluster-varmor-demo-4");
	CHECK_STR(p.model_namespace, "varmor");
	CHECK_STR(p.key, "varmor/varmor-cluster-varmor-demo-4");
	CHECK_STR(p.target_namespace, ""); /* every namespace */
	CHECK_STR(p.target_kind, "Deployment");
	CHECK_STR(p.selector_json, "{\"matchLabels\":{\"app\":\"demo-4\"}}");
	CHECK(p.duration_min == 30);
	CHECK_STR(p.enforcer, "AppArmorSeccomp");
	CHECK(p.n_containers == 0);
	CHECK(p.update_existing);
	policy_free(&p);
	json_decref(o);
}

static void test_namespaced_policy(void)
{
	json_t *o = load("{\"kind\":\"VarmorPolicy\",\"metadata\":{\"name\":\"Demo-4\","
			 "\"namespace\":\"demo\"},\"spec\":{\"target\":{\"kind\":\"Pod\","
			 "\"name\":\"web\",\"containers\":[\"c1\",\"c2\"]},\"policy\":{"
			 "\"enforcer\":\"BPF\",\"mode\":\"BehaviorModeling\","
			 "\"modelingOptions\":{\"duration\":3}}},\"status\":{\"phase\":"
			 "\"Modeling\"}}");
	struct policy p;
	char err[256];

	CHECK(policy_from_json(o, "varmor", &p, err, sizeof(err)) == 0);
	CHECK_STR(p.profile_name, "varmor-demo-demo-4"); /* lowercased, as vArmor does */
	CHECK_STR(p.model_namespace, "demo");
	CHECK_STR(p.target_namespace, "demo");
	CHECK_STR(p.target_name, "web");
	CHECK(p.selector_json == NULL);
	CHECK(p.n_containers == 2 && !strcmp(p.containers[1], "c2"));
	CHECK_STR(p.status_phase, "Modeling");
	policy_free(&p);
	json_decref(o);
}

static void check_invalid(const char *text, const char *needle)
{
	json_t *o = load(text);
	struct policy p;
	char err[256];
	int rc = policy_from_json(o, "varmor", &p, err, sizeof(err));

	CHECK(rc == -EINVAL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "error '%s' does not mention '%s'\n", err, needle);
		CHECK(0);
	}
	json_decref(o);
}

#define POL(target, policy)                                                                        \
	"{\"kind\":\"VarmorPolicy\",\"metadata\":{\"name\":\"p\",\"namespace\":\"n\"},"            \
	"\"spec\":{\"target\":" target ",\"policy\":" policy "}}"
#define OKTARGET "{\"kind\":\"Deployment\",\"name\":\"d\"}"
#define OKPOLICY                                                                                   \
	"{\"enforcer\":\"AppArmorSeccomp\",\"mode\":\"BehaviorModeling\","                         \
	"\"modelingOptions\":{\"duration\":1}}"

static void test_validation(void)
{
	check_invalid(POL(OKTARGET, "{\"enforcer\":\"AppArmor\",\"mode\":\"BehaviorModeling\","
				    "\"modelingOptions\":{\"duration\":0}}"),
		      "duration");
	check_invalid(POL(OKTARGET, "{\"enforcer\":\"AppArmor\",\"mode\":\"BehaviorModeling\"}"),
		      "duration");
	check_invalid(POL(OKTARGET, "{\"enforcer\":\"AppArmor\",\"mode\":\"BehaviorModeling\","
				    "\"modelingOptions\":{\"duration\":\"5\"}}"),
		      "duration");
	check_invalid(POL(OKTARGET, "{\"enforcer\":\"SELinux\",\"mode\":\"BehaviorModeling\","
				    "\"modelingOptions\":{\"duration\":5}}"),
		      "enforcer");
	check_invalid(POL("{\"kind\":\"Job\",\"name\":\"d\"}", OKPOLICY), "kind");
	check_invalid(POL("{\"kind\":\"Pod\"}", OKPOLICY), "exactly one");
	check_invalid(POL("{\"kind\":\"Pod\",\"name\":\"x\",\"selector\":{}}", OKPOLICY),
		      "exactly one");
	check_invalid(POL("{\"kind\":\"Pod\",\"name\":\"x\",\"containers\":[1]}", OKPOLICY),
		      "containers[0]");
	/* varmor-<ns>-<name> must stay within 63 characters. */
	check_invalid("{\"kind\":\"VarmorPolicy\",\"metadata\":{\"name\":\"a-very-long-policy-name-"
		      "that-goes-on\",\"namespace\":\"and-a-long-namespace-too\"},\"spec\":{"
		      "\"target\":" OKTARGET ",\"policy\":" OKPOLICY "}}",
		      "at most 63");
	check_invalid("{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"p\"}}", "not a vArmor");
}

static void test_other_mode(void)
{
	json_t *o = load(POL(OKTARGET, "{\"enforcer\":\"AppArmor\",\"mode\":\"EnhanceProtect\"}"));
	struct policy p;
	char err[256];

	CHECK(policy_from_json(o, "varmor", &p, err, sizeof(err)) == 1);
	CHECK_STR(p.mode, "EnhanceProtect");
	CHECK_STR(p.key, "n/varmor-n-p"); /* to find a run it may have left */
	json_decref(o);
}

static void test_decide(void)
{
	struct policy p = {.duration_min = 30};
	struct policy_run run = {0};
	int64_t now = 1000 * MIN_NS, deadline = 0;
	char err[256];

	strcpy(p.enforcer, "AppArmorSeccomp");
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_START);

	run.generation = 1;
	run.start_ns = now - 5 * MIN_NS;
	run.duration_s = 30 * 60;
	run.deadline_ns = run.start_ns + 30 * MIN_NS;
	strcpy(run.enforcer, "AppArmorSeccomp");
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_KEEP);

	/* The seed: duration patched to 1 while modeling for 5 minutes ends it now. */
	p.duration_min = 1;
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_MOVE_DEADLINE);
	CHECK(deadline == now);
	/* Lengthened: start + the new duration. */
	p.duration_min = 60;
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_MOVE_DEADLINE);
	CHECK(deadline == run.start_ns + 60 * MIN_NS);
	/* Shortened but still ahead. */
	p.duration_min = 10;
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_MOVE_DEADLINE);
	CHECK(deadline == run.start_ns + 10 * MIN_NS);

	/* No enforcer change while modeling. */
	p.duration_min = 30;
	strcpy(p.enforcer, "BPF");
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_REFUSE);
	CHECK(strstr(err, "enforcer") != NULL);

	/* Completed: same duration keeps the result, a new one re-models. */
	run.deadline_ns = now - 1;
	strcpy(p.enforcer, "AppArmorSeccomp");
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_KEEP);
	strcpy(p.enforcer, "BPF"); /* allowed once the run is over */
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_KEEP);
	p.duration_min = 5;
	CHECK(policy_decide(&p, &run, now, &deadline, err, sizeof(err)) == POLICY_START);
}

int main(void)
{
	test_seed_cluster_policy();
	test_namespaced_policy();
	test_validation();
	test_other_mode();
	test_decide();
	return TEST_SUMMARY();
}
