/* Target matching on realistic `kubectl get -o json` objects
 * (testdata/podmatch/): selectors, owner chains, the decision and the
 * containers a run captures, as vArmor decides them. */
#include "pod_match.h"
#include "testing.h"

#include <errno.h>
#include <jansson.h>

#define ID_DEMO_C0 "56d6dbfa5f38c5f127617eee1474988e84b8eb409a94e0d911f22fb53cec6ece"
#define ID_DEMO_C1 "a5152a8537bcbae49131aa42daab9463918f1650fc9b4d549996d83817fa99f9"
#define ID_WEB_NGINX "c83606a9e181db87715c3ee9001904ae19a5d421a3dfe0caff9ec80c939cacab"
#define ID_AGENT "d4f0bc5a29de06b510f9aa428f1eedba926012b591fef7a518e776a7c9bd1824"
#define ID_REPORTER "41d6d5322a9b546a16bdf2213c7e4b017bec5e4e13f31095b4bcfa09849b8732"
#define ID_BARE_SHELL "2e7682c84cc20567ef2c119edcfe98bbf819b60e941dd59ed9e5b6ff65dfb316"
#define ID_BARE_HELPER "cfa7febd6fe29454899fb16423cb0c061877a171b0158cae503f670775aa5deb"
#define ID_LEGACY "069465dc34a9a448af8daad24117f2f5b7fe3748ee763e6c3db8a273c76e2ba1"

/* The objects the fake API server holds. */
static json_t *objs[16];
static size_t n_objs;

static json_t *load(const char *name)
{
	char rel[256];
	json_error_t jerr;
	char *text;
	json_t *j;

	snprintf(rel, sizeof(rel), "producers/probe/testdata/podmatch/%s", name);
	text = testing_read_source_file(rel);
	if (!text)
		return NULL;
	j = json_loads(text, 0, &jerr);
	if (!j)
		fprintf(stderr, "%s: %s\n", rel, jerr.text);
	free(text);
	return j;
}

/* GET kind/ns/name from the fake server: borrowed, NULL = 404. */
static json_t *fake_get(const struct pod_match_ref *r)
{
	for (size_t i = 0; i < n_objs; i++) {
		json_t *md = json_object_get(objs[i], "metadata");
		if (!strcmp(json_string_value(json_object_get(objs[i], "kind")), r->kind) &&
		    !strcmp(json_string_value(json_object_get(md, "name")), r->name) &&
		    !strcmp(json_string_value(json_object_get(md, "namespace")), r->namespace))
			return objs[i];
	}
	return NULL;
}

/* The probe's loop: fetch what pod_match_owner_next asks, then decide.
 * *fetches counts the GETs. Returns pod_match_pod's code, or -ENOENT when
 * a GET found nothing. */
static int decide(const struct pod_match_target *t, const json_t *pod, struct pod_match_result *res,
		  int *fetches)
{
	const json_t *owners[4];
	size_t n = 0;
	struct pod_match_ref next;
	char err[256] = "";
	int rc;

	*fetches = 0;
	memset(res, 0, sizeof(*res));
	while ((rc = pod_match_owner_next(t, pod, owners, n, &next, err, sizeof(err))) == 1) {
		json_t *o = fake_get(&next);
		(*fetches)++;
		CHECK(!strcmp(next.api_version, "apps/v1"));
		if (!o || n == 4)
			return -ENOENT;
		owners[n++] = o;
	}
	if (rc < 0)
		return rc;
	rc = pod_match_pod(t, pod, owners, n, res, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "pod_match_pod: %s\n", err);
	return rc;
}

static struct pod_match_target *target(const char *kind, const char *name, const char *sel,
				       const char *ns, const char *enforcer,
				       const char *const *containers, size_t n)
{
	struct pod_match_spec spec = {
	    .kind = kind,
	    .name = name,
	    .selector_json = sel,
	    .containers = containers,
	    .n_containers = n,
	    .namespace = ns,
	    .enforcer = enforcer,
	    .label_key = POD_MATCH_LABEL_KEY,
	};
	struct pod_match_target *t = NULL;
	char err[256] = "";

	if (pod_match_target_new(&spec, &t, err, sizeof(err)) < 0)
		fprintf(stderr, "target: %s\n", err);
	return t;
}

/* The selector against labels, both as JSON text ("" = NULL). */
static int sel(const char *selector, const char *labels)
{
	json_t *s = *selector ? json_loads(selector, JSON_DECODE_ANY, NULL) : NULL;
	json_t *l = *labels ? json_loads(labels, 0, NULL) : NULL;
	char err[256] = "";
	int rc = pod_match_selector(s, l, err, sizeof(err));

	if (rc == -EINVAL && !*err)
		rc = -1000; /* an error must say why */
	json_decref(s);
	json_decref(l);
	return rc;
}

static void test_selector_semantics(void)
{
	const char *lab =
	    "{\"app\":\"demo-4\",\"tier\":\"web\",\"sandbox.varmor.org/enable\":\"true\"}";

	/* null selects nothing, {} everything, even without labels */
	CHECK(sel("", lab) == 0);
	CHECK(sel("null", lab) == 0);
	CHECK(sel("{}", lab) == 1);
	CHECK(sel("{}", "") == 1);
	CHECK(sel("{\"matchLabels\":{},\"matchExpressions\":[]}", lab) == 1);
	CHECK(sel("{\"matchLabels\":null,\"matchExpressions\":null}", lab) == 1);
	/* matchLabels: every pair */
	CHECK(sel("{\"matchLabels\":{\"app\":\"demo-4\"}}", lab) == 1);
	CHECK(sel("{\"matchLabels\":{\"app\":\"demo-4\",\"tier\":\"db\"}}", lab) == 0);
	CHECK(sel("{\"matchLabels\":{\"app\":\"demo-4\"}}", "") == 0);
	CHECK(sel("{\"matchLabels\":{\"app\":\"demo-4\"}}", "{}") == 0);
	CHECK(sel("{\"matchLabels\":{\"sandbox.varmor.org/enable\":\"true\"}}", lab) == 1);
	/* In */
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"db\","
		  "\"web\"]}]}",
		  lab) == 1);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"db\"]"
		  "}]}",
		  lab) == 0);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\"]}"
		  "]}",
		  lab) == 0);
	/* NotIn holds for an absent key */
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\",\"values\":["
		  "\"db\"]}]"
		  "}",
		  lab) == 1);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\",\"values\":["
		  "\"web\"]}"
		  "]}",
		  lab) == 0);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":["
		  "\"a\"]}]"
		  "}",
		  lab) == 1);
	/* Exists / DoesNotExist, values absent, null or [] */
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Exists\"}]}", lab) == 1);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}", lab) == 0);
	CHECK(
	    sel("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"DoesNotExist\",\"values\":"
		"null}]}",
		lab) == 1);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"DoesNotExist\","
		  "\"values\":["
		  "]}]}",
		  lab) == 0);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"DoesNotExist\"}]}",
		  "") == 1);
	/* everything is ANDed */
	CHECK(sel("{\"matchLabels\":{\"app\":\"demo-4\"},\"matchExpressions\":[{\"key\":\"tier\","
		  "\"operator\":\"Exists\"},{\"key\":\"zone\",\"operator\":\"DoesNotExist\"}]}",
		  lab) == 1);
	CHECK(sel("{\"matchLabels\":{\"app\":\"demo-4\"},\"matchExpressions\":[{\"key\":\"tier\","
		  "\"operator\":\"Exists\"},{\"key\":\"app\",\"operator\":\"DoesNotExist\"}]}",
		  lab) == 0);
}

static void test_selector_malformed(void)
{
	const char *lab = "{\"app\":\"demo-4\"}";

	CHECK(sel("[]", lab) == -EINVAL);
	CHECK(sel("\"app=demo-4\"", lab) == -EINVAL);
	CHECK(sel("{\"matchLabel\":{\"app\":\"demo-4\"}}", lab) == -EINVAL); /* typo: not {} */
	CHECK(sel("{\"matchLabels\":[\"app\"]}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"app\":4}}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"app\":null}}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"bad key\":\"x\"}}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"Example.com/app\":\"x\"}}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"a/b/c\":\"x\"}}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"/app\":\"x\"}}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"app\":\"-x\"}}", lab) == -EINVAL);
	CHECK(sel("{\"matchLabels\":{\"app\":"
		  "\"0123456789012345678901234567890123456789012345678901234567890123\"}}",
		  lab) == -EINVAL); /* 64 characters */
	CHECK(sel("{\"matchLabels\":{\"app\":\"\"}}", "{\"app\":\"\"}") ==
	      1); /* empty value is valid */
	CHECK(sel("{\"matchLabels\":{\"example.com/app_v-1.x\":\"A_b-1.2\"}}",
		  "{\"example.com/app_v-1.x\":\"A_b-1.2\"}") == 1);
	CHECK(sel("{\"matchExpressions\":{\"key\":\"app\"}}", lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[\"app\"]}", lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"operator\":\"Exists\"}]}", lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\"}]}", lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Equals\",\"values\":["
		  "\"x\"]}]}",
		  lab) == -EINVAL);
	CHECK(
	    sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"in\",\"values\":[\"x\"]}]}",
		lab) == -EINVAL); /* operators are case-sensitive */
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\"}]}", lab) ==
	      -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"NotIn\",\"values\":[]}]}",
		  lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\",\"values\":["
		  "\"x\"]}]"
		  "}",
		  lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[1]}]}",
		  lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":\"x\"}]}",
		  lab) == -EINVAL);
	CHECK(sel("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\",\"extra\":1}]}",
		  lab) == -EINVAL);
	/* a malformed requirement after a failing one is still reported */
	CHECK(sel("{\"matchLabels\":{\"app\":\"other\"},\"matchExpressions\":[{\"key\":\"app\","
		  "\"operator\":\"Bogus\"}]}",
		  lab) == -EINVAL);
	{
		char err[256] = "";
		json_t *s = json_loads("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":"
				       "\"Equals\",\"values\":[\"x\"]}]}",
				       0, NULL);
		CHECK(pod_match_selector(s, NULL, err, sizeof(err)) == -EINVAL);
		CHECK(strstr(err, "\"Equals\" is not a valid label selector operator") != NULL);
		json_decref(s);
	}
}

static void test_target_new(void)
{
	const char *c[] = {"c1"};
	struct pod_match_target *t;
	struct pod_match_spec spec = {.kind = "Deployment",
				      .selector_json = "{\"matchLabels\":{\"app\":\"demo-4\"}}",
				      .enforcer = "AppArmorSeccomp"};
	char err[256];

	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
	pod_match_target_free(t);
	spec.kind = "ReplicaSet"; /* not a vArmor target kind */
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL && !t);
	CHECK(strstr(err, "ReplicaSet") != NULL);
	spec.kind = "deployment";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.kind = "LocalProcess";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.kind = NULL;
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.kind = "Pod";
	spec.name = "demo";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL); /* name and selector */
	spec.name = NULL;
	spec.selector_json = "";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL); /* neither */
	spec.selector_json = "null";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.selector_json = "{\"matchLabels\":";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.selector_json = "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Near\"}]}";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "Near") != NULL);
	spec.selector_json = "{}";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
	pod_match_target_free(t);
	spec.enforcer = "";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.enforcer = "SELinux";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.enforcer = "AppArmorNetworkProxy";
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == -EINVAL);
	spec.enforcer = "apparmorbpfseccomp";
	spec.containers = c;
	spec.n_containers = 1;
	CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
	pod_match_target_free(t);
}

static const struct pod_match_container *find_c(const struct pod_match_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_containers; i++)
		if (!strcmp(r->containers[i].name, name))
			return &r->containers[i];
	return NULL;
}

/* The seed: a Deployment selected by labels, c0 unconfined for AppArmor and
 * Seccomp, c1 not. */
static void test_seed_deployment(json_t *pod)
{
	struct pod_match_target *t;
	struct pod_match_result r;
	int fetches;

	t = target("Deployment", NULL, "{\"matchLabels\":{\"app\":\"demo-4\"}}", "demo",
		   "AppArmorSeccomp", NULL, 0);
	CHECK(t != NULL);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(fetches == 2); /* ReplicaSet, then Deployment */
	CHECK(r.verdict == POD_MATCH_YES);
	CHECK_STR(r.workload.kind, "Deployment");
	CHECK_STR(r.workload.name, "demo-4");
	CHECK(r.n_containers == 1);
	CHECK(r.n_unconfined == 1 && r.n_waiting == 0 && r.n_bad_id == 0);
	if (r.n_containers == 1) {
		CHECK_STR(r.containers[0].namespace, "demo");
		CHECK_STR(r.containers[0].pod_name, "demo-4-5f4d94f7d9-5st8f");
		CHECK_STR(r.containers[0].pod_uid, "3f1e2d4c-8b7a-4c6d-9e5f-1a2b3c4d5e6f");
		CHECK_STR(r.containers[0].name, "c1");
		CHECK_STR(r.containers[0].id, ID_DEMO_C1);
		CHECK_STR(r.containers[0].runtime, "containerd");
	}
	pod_match_result_free(&r);
	CHECK(r.containers == NULL && r.n_containers == 0);
	pod_match_target_free(t);

	/* The same pod, one enforcer at a time and combined with BPF. */
	{
		static const struct {
			const char *enforcer;
			int c0, c1;
		} cases[] = {
		    {"AppArmor", 0, 1},
		    {"Seccomp", 0, 1},
		    {"BPF", 1, 1},
		    {"AppArmorBPF", 1, 1},
		    {"AppArmorBPFSeccomp", 1, 1},
		    {"BPFSeccomp", 1, 1},
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			t = target("Deployment", "demo-4", NULL, "", cases[i].enforcer, NULL, 0);
			CHECK(decide(t, pod, &r, &fetches) == 0);
			CHECK(r.verdict == POD_MATCH_YES);
			if ((find_c(&r, "c0") != NULL) != cases[i].c0 ||
			    (find_c(&r, "c1") != NULL) != cases[i].c1)
				fprintf(stderr, "enforcer %s: wrong containers\n",
					cases[i].enforcer);
			CHECK((find_c(&r, "c0") != NULL) == cases[i].c0);
			CHECK((find_c(&r, "c1") != NULL) == cases[i].c1);
			if (find_c(&r, "c0"))
				CHECK_STR(find_c(&r, "c0")->id, ID_DEMO_C0);
			pod_match_result_free(&r);
			pod_match_target_free(t);
		}
	}
}

/* Partial opt-outs: captured unless every enforcer of the run is off. */
static void test_partial_unconfined(json_t *pod0)
{
	json_t *pod = json_deep_copy(pod0);
	json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	struct pod_match_target *t;
	struct pod_match_result r;
	int fetches;

	json_object_del(ann, "container.seccomp.security.beta.varmor.org/c0");
	t = target("Deployment", "demo-4", NULL, "demo", "AppArmorSeccomp", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(find_c(&r, "c0") != NULL && find_c(&r, "c1") != NULL && r.n_unconfined == 0);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	t = target("Deployment", "demo-4", NULL, "demo", "AppArmor", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(find_c(&r, "c0") == NULL && r.n_unconfined == 1);
	pod_match_result_free(&r);
	pod_match_target_free(t);

	/* any value but "unconfined" keeps the enforcer on */
	json_object_set_new(ann, "container.apparmor.security.beta.varmor.org/c0",
			    json_string("localhost/varmor-demo-demo-4"));
	t = target("Deployment", "demo-4", NULL, "demo", "AppArmor", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(find_c(&r, "c0") != NULL);
	pod_match_result_free(&r);
	pod_match_target_free(t);

	/* BPF has its own annotation */
	json_object_set_new(ann, "container.bpf.security.beta.varmor.org/c1",
			    json_string("unconfined"));
	t = target("Deployment", "demo-4", NULL, "demo", "BPF", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(find_c(&r, "c0") != NULL && find_c(&r, "c1") == NULL && r.n_unconfined == 1);
	pod_match_result_free(&r);
	pod_match_target_free(t);

	/* pod-level seccompProfile Unconfined turns Seccomp off for all */
	json_object_set_new(json_object_get(json_object_get(pod, "spec"), "securityContext"),
			    "seccompProfile", json_pack("{s:s}", "type", "Unconfined"));
	t = target("Deployment", "demo-4", NULL, "demo", "Seccomp", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 0 && r.n_unconfined == 2);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	/* and a container-level appArmorProfile Unconfined turns AppArmor off */
	json_object_set_new(
	    json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 1),
	    "securityContext", json_pack("{s:{s:s}}", "appArmorProfile", "type", "Unconfined"));
	t = target("Deployment", "demo-4", NULL, "demo", "AppArmorSeccomp", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(find_c(&r, "c0") != NULL && find_c(&r, "c1") == NULL);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	json_decref(pod);
}

static void test_container_list(json_t *pod)
{
	const char *only_c1[] = {"c1"}, *only_c0[] = {"c0"}, *none[] = {"sidecar"};
	struct pod_match_target *t;
	struct pod_match_result r;
	int fetches;

	t = target("Deployment", "demo-4", NULL, "demo", "BPF", only_c1, 1);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.n_containers == 1 && find_c(&r, "c1"));
	pod_match_result_free(&r);
	pod_match_target_free(t);
	/* the annotations win over the list */
	t = target("Deployment", "demo-4", NULL, "demo", "AppArmorSeccomp", only_c0, 1);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 0 && r.n_unconfined == 1);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	t = target("Deployment", "demo-4", NULL, "demo", "BPF", none, 1);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 0 && r.n_unconfined == 0);
	pod_match_result_free(&r);
	pod_match_target_free(t);
}

/* name vs selector, namespaces and the match label, on the Deployment. */
static void test_deployment_verdicts(json_t *pod, json_t *deploy)
{
	static const struct {
		const char *name, *sel, *ns;
		enum pod_match_verdict v;
		int fetches;
	} cases[] = {
	    {"demo-4", NULL, "demo", POD_MATCH_YES, 2},
	    {"demo-4", NULL, "", POD_MATCH_YES, 2},
	    {"demo-4", NULL, "default", POD_MATCH_NO_NAMESPACE, 0},
	    {"demo-5", NULL, "demo", POD_MATCH_NO_NAME, 2},
	    /* the ReplicaSet's or the pod's name is not the workload's */
	    {"demo-4-5f4d94f7d9", NULL, "demo", POD_MATCH_NO_NAME, 2},
	    {NULL, "{\"matchLabels\":{\"app\":\"demo-5\"}}", "demo", POD_MATCH_NO_SELECTOR, 2},
	    /* the selector sees the Deployment's labels, not the pod's */
	    {NULL, "{\"matchLabels\":{\"pod-template-hash\":\"5f4d94f7d9\"}}", "",
	     POD_MATCH_NO_SELECTOR, 2},
	    {NULL,
	     "{\"matchExpressions\":[{\"key\":\"pod-template-hash\",\"operator\":"
	     "\"DoesNotExist\"}]}",
	     "", POD_MATCH_YES, 2},
	    {NULL, "{}", "", POD_MATCH_YES, 2},
	};
	struct pod_match_target *t;
	struct pod_match_result r;
	json_t *labels;
	int fetches;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = target("Deployment", cases[i].name, cases[i].sel, cases[i].ns,
			   "AppArmorSeccomp", NULL, 0);
		CHECK(t != NULL);
		if (!t)
			continue;
		CHECK(decide(t, pod, &r, &fetches) == 0);
		if (r.verdict != cases[i].v || fetches != cases[i].fetches)
			fprintf(stderr, "case %zu: verdict %s, %d fetches\n", i,
				pod_match_verdict_str(r.verdict), fetches);
		CHECK(r.verdict == cases[i].v);
		CHECK(fetches == cases[i].fetches);
		CHECK(r.verdict == POD_MATCH_YES || r.n_containers == 0);
		pod_match_result_free(&r);
		pod_match_target_free(t);
	}

	/* the match label is read from the Deployment: absent, "false",
	 * another value, or the check turned off */
	labels = json_object_get(json_object_get(deploy, "metadata"), "labels");
	{
		struct pod_match_spec spec = {.kind = "Deployment",
					      .name = "demo-4",
					      .enforcer = "AppArmorSeccomp",
					      .label_key = POD_MATCH_LABEL_KEY};
		char err[256];

		json_object_set_new(labels, POD_MATCH_LABEL_KEY, json_string("false"));
		CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
		CHECK(decide(t, pod, &r, &fetches) == 0 && r.verdict == POD_MATCH_NO_LABEL);
		CHECK(r.n_containers == 0);
		pod_match_result_free(&r);
		pod_match_target_free(t);

		json_object_del(labels, POD_MATCH_LABEL_KEY);
		CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
		CHECK(decide(t, pod, &r, &fetches) == 0 && r.verdict == POD_MATCH_NO_LABEL);
		pod_match_result_free(&r);
		pod_match_target_free(t);

		spec.label_key = ""; /* --webhookMatchLabel= */
		CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
		CHECK(decide(t, pod, &r, &fetches) == 0 && r.verdict == POD_MATCH_YES);
		CHECK(r.n_containers == 1);
		pod_match_result_free(&r);
		pod_match_target_free(t);

		spec.label_key = "security.example.com/model";
		spec.label_value = "yes";
		json_object_set_new(labels, "security.example.com/model", json_string("yes"));
		CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
		CHECK(decide(t, pod, &r, &fetches) == 0 && r.verdict == POD_MATCH_YES);
		pod_match_result_free(&r);
		pod_match_target_free(t);
		json_object_del(labels, "security.example.com/model");
		json_object_set_new(labels, POD_MATCH_LABEL_KEY, json_string("true"));
	}

	/* the pod itself carries no match label: irrelevant for a Deployment */
	CHECK(json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"),
			      POD_MATCH_LABEL_KEY) == NULL);
}

/* A kind Pod target sees every pod, by the pod's own name and labels, and
 * needs no fetch. */
static void test_kind_pod(json_t *demo_pod, json_t *bare)
{
	struct pod_match_target *t;
	struct pod_match_result r;
	int fetches;

	/* the Deployment's pod lacks the match label on itself */
	t = target("Pod", NULL, "{\"matchLabels\":{\"app\":\"demo-4\"}}", "", "AppArmorSeccomp",
		   NULL, 0);
	CHECK(decide(t, demo_pod, &r, &fetches) == 0);
	CHECK(fetches == 0 && r.verdict == POD_MATCH_NO_LABEL);
	CHECK_STR(r.workload.kind, "Pod");
	pod_match_result_free(&r);
	pod_match_target_free(t);
	{
		struct pod_match_spec spec = {.kind = "Pod",
					      .selector_json = "{\"matchLabels\":{\"pod-template-"
							       "hash\":\"5f4d94f7d9\"}}",
					      .enforcer = "BPF"};
		char err[256];
		CHECK(pod_match_target_new(&spec, &t, err, sizeof(err)) == 0);
		CHECK(decide(t, demo_pod, &r, &fetches) == 0);
		CHECK(fetches == 0 && r.verdict == POD_MATCH_YES && r.n_containers == 2);
		pod_match_result_free(&r);
		pod_match_target_free(t);
	}

	/* the bare pod: by name, by selector; the legacy Kubernetes AppArmor
	 * annotation switches AppArmor off for "shell" */
	t = target("Pod", "debug-shell", NULL, "default", "AppArmor", NULL, 0);
	CHECK(decide(t, bare, &r, &fetches) == 0);
	CHECK(fetches == 0 && r.verdict == POD_MATCH_YES);
	CHECK(r.n_containers == 1 && find_c(&r, "helper") && r.n_unconfined == 1);
	if (find_c(&r, "helper"))
		CHECK_STR(find_c(&r, "helper")->id, ID_BARE_HELPER);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	t = target("Pod", NULL, "{\"matchLabels\":{\"app\":\"debug\"}}", "", "AppArmorSeccomp",
		   NULL, 0);
	CHECK(decide(t, bare, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 2);
	if (find_c(&r, "shell"))
		CHECK_STR(find_c(&r, "shell")->id, ID_BARE_SHELL);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	t = target("Pod", "debug-shell-2", NULL, "", "AppArmor", NULL, 0);
	CHECK(decide(t, bare, &r, &fetches) == 0 && r.verdict == POD_MATCH_NO_NAME);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	{
		struct pod_match_ref wl;
		const json_t *obj = NULL;
		char err[256];
		CHECK(pod_match_workload(bare, NULL, 0, &wl, &obj, err, sizeof(err)) == 0);
		CHECK_STR(wl.kind, "Pod");
		CHECK_STR(wl.name, "debug-shell");
		CHECK(obj == bare);
	}
	/* a bare pod never matches a workload kind */
	t = target("Deployment", NULL, "{}", "", "AppArmor", NULL, 0);
	CHECK(decide(t, bare, &r, &fetches) == 0);
	CHECK(fetches == 0 && r.verdict == POD_MATCH_NO_KIND);
	CHECK_STR(r.workload.kind, "Pod");
	pod_match_result_free(&r);
	pod_match_target_free(t);
}

/* StatefulSet pod on cri-o: init and ephemeral containers never count; a
 * crash-looping container's stale id and a container being created wait. */
static void test_statefulset(json_t *pod)
{
	const char *listed[] = {"init-perms", "log-shipper", "debugger-8xk2q", "nginx"};
	struct pod_match_target *t;
	struct pod_match_result r;
	int fetches;

	t = target("StatefulSet", NULL, "{\"matchLabels\":{\"tier\":\"frontend\"}}", "data",
		   "AppArmorSeccomp", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(fetches == 1 && r.verdict == POD_MATCH_YES);
	CHECK_STR(r.workload.kind, "StatefulSet");
	CHECK_STR(r.workload.name, "web");
	CHECK(r.n_containers == 1 && r.n_waiting == 2 && r.n_terminated == 0);
	if (r.n_containers == 1) {
		CHECK_STR(r.containers[0].name, "nginx");
		CHECK_STR(r.containers[0].id, ID_WEB_NGINX);
		CHECK_STR(r.containers[0].runtime, "cri-o");
	}
	pod_match_result_free(&r);
	pod_match_target_free(t);

	/* naming init, sidecar and ephemeral containers does not add them */
	t = target("StatefulSet", "web", NULL, "", "BPF", listed, 4);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.n_containers == 1 && find_c(&r, "nginx") && r.n_waiting == 0);
	pod_match_result_free(&r);
	pod_match_target_free(t);

	/* other kinds: no fetch, no match */
	t = target("DaemonSet", NULL, "{}", "", "BPF", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(fetches == 0 && r.verdict == POD_MATCH_NO_KIND);
	CHECK_STR(r.workload.kind, "StatefulSet");
	pod_match_result_free(&r);
	pod_match_target_free(t);
	t = target("Deployment", NULL, "{}", "", "BPF", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(fetches == 0 && r.verdict == POD_MATCH_NO_KIND);
	pod_match_result_free(&r);
	pod_match_target_free(t);
}

/* DaemonSet pod on docker: a privileged container with AppArmor unconfined
 * is off for AppArmorSeccomp, on for BPF. */
static void test_daemonset(json_t *pod)
{
	struct pod_match_target *t;
	struct pod_match_result r;
	int fetches;

	t = target("DaemonSet", "node-agent", NULL, "kube-system", "AppArmorSeccomp", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(fetches == 1 && r.verdict == POD_MATCH_YES);
	CHECK(r.n_containers == 1 && find_c(&r, "reporter") && r.n_unconfined == 1);
	if (find_c(&r, "reporter")) {
		CHECK_STR(find_c(&r, "reporter")->id, ID_REPORTER);
		CHECK_STR(find_c(&r, "reporter")->runtime, "docker");
	}
	pod_match_result_free(&r);
	pod_match_target_free(t);
	t = target("DaemonSet", "node-agent", NULL, "kube-system", "Seccomp", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.n_containers == 1 && find_c(&r, "reporter")); /* privileged: no seccomp */
	pod_match_result_free(&r);
	pod_match_target_free(t);
	t = target("DaemonSet", "node-agent", NULL, "kube-system", "AppArmorBPF", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.n_containers == 2 && find_c(&r, "agent"));
	if (find_c(&r, "agent"))
		CHECK_STR(find_c(&r, "agent")->id, ID_AGENT);
	pod_match_result_free(&r);
	pod_match_target_free(t);
}

/* Owners that are not followed: a ReplicaSet without a Deployment, a Job,
 * an OpenKruise StatefulSet. */
static void test_other_owners(json_t *legacy, json_t *job, json_t *kruise)
{
	struct pod_match_target *t;
	struct pod_match_result r;
	struct pod_match_ref wl;
	const json_t *obj, *owners[1];
	char err[256];
	int fetches;

	/* the bare ReplicaSet is fetched (it could have a Deployment above
	 * it) and is then the workload: no target kind matches it */
	t = target("Deployment", NULL, "{\"matchLabels\":{\"app\":\"legacy\"}}", "", "BPF", NULL,
		   0);
	CHECK(decide(t, legacy, &r, &fetches) == 0);
	CHECK(fetches == 1 && r.verdict == POD_MATCH_NO_KIND);
	CHECK_STR(r.workload.kind, "ReplicaSet");
	pod_match_result_free(&r);
	pod_match_target_free(t);
	CHECK(pod_match_workload(legacy, NULL, 0, &wl, &obj, err, sizeof(err)) == 1);
	CHECK_STR(wl.kind, "ReplicaSet");
	CHECK(obj == NULL);
	{
		struct pod_match_ref want = {.kind = "ReplicaSet", .namespace = "default"};
		strcpy(want.name, "legacy");
		owners[0] = fake_get(&want);
	}
	CHECK(owners[0] != NULL);
	CHECK(pod_match_workload(legacy, owners, 1, &wl, &obj, err, sizeof(err)) == 0);
	CHECK_STR(wl.kind, "ReplicaSet");
	CHECK_STR(wl.name, "legacy");
	CHECK(obj == owners[0]);
	/* ...but its pod is still a pod */
	t = target("Pod", NULL, "{\"matchLabels\":{\"app\":\"legacy\"}}", "", "BPF", NULL, 0);
	CHECK(decide(t, legacy, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 1);
	if (r.n_containers)
		CHECK_STR(r.containers[0].id, ID_LEGACY);
	pod_match_result_free(&r);
	pod_match_target_free(t);

	/* a finished Job's pod: the workload is the Job, its container exited */
	CHECK(pod_match_workload(job, NULL, 0, &wl, &obj, err, sizeof(err)) == 0);
	CHECK_STR(wl.kind, "Job");
	CHECK_STR(wl.api_version, "batch/v1");
	CHECK_STR(wl.name, "migrate");
	CHECK(obj == NULL);
	t = target("Pod", NULL, "{\"matchLabels\":{\"job-name\":\"migrate\"}}", "", "BPF", NULL, 0);
	CHECK(decide(t, job, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 0 && r.n_terminated == 1);
	pod_match_result_free(&r);
	pod_match_target_free(t);

	/* apps.kruise.io StatefulSet: same kind name, other group */
	t = target("StatefulSet", "kv", NULL, "", "BPF", NULL, 0);
	CHECK(decide(t, kruise, &r, &fetches) == 0);
	CHECK(fetches == 0 && r.verdict == POD_MATCH_NO_KIND);
	CHECK_STR(r.workload.api_version, "apps.kruise.io/v1beta1");
	pod_match_result_free(&r);
	pod_match_target_free(t);
}

/* The caller's mistakes and a recreated owner. */
static void test_owner_errors(json_t *pod, json_t *rs, json_t *deploy, json_t *sts)
{
	struct pod_match_target *t = target("Deployment", "demo-4", NULL, "", "BPF", NULL, 0);
	struct pod_match_result r;
	struct pod_match_ref next;
	const json_t *owners[2];
	json_t *rs2;
	char err[256];

	CHECK(pod_match_owner_next(t, pod, NULL, 0, &next, err, sizeof(err)) == 1);
	CHECK_STR(next.kind, "ReplicaSet");
	CHECK_STR(next.name, "demo-4-5f4d94f7d9");
	CHECK_STR(next.namespace, "demo");
	CHECK_STR(next.uid, "c2a8e5d1-6b4f-4a7c-8e3d-91f0b2c4a6d8");
	owners[0] = rs;
	CHECK(pod_match_owner_next(t, pod, owners, 1, &next, err, sizeof(err)) == 1);
	CHECK_STR(next.kind, "Deployment");
	CHECK_STR(next.name, "demo-4");
	owners[1] = deploy;
	CHECK(pod_match_owner_next(t, pod, owners, 2, &next, err, sizeof(err)) == 0);

	/* deciding before fetching */
	CHECK(pod_match_pod(t, pod, owners, 1, &r, err, sizeof(err)) == -EAGAIN);
	CHECK(strstr(err, "Deployment demo-4") != NULL);
	/* the wrong object */
	owners[0] = sts;
	CHECK(pod_match_owner_next(t, pod, owners, 1, &next, err, sizeof(err)) == -EINVAL);
	/* the ReplicaSet was recreated under the same name */
	rs2 = json_deep_copy(rs);
	json_object_set_new(json_object_get(rs2, "metadata"), "uid",
			    json_string("00000000-0000-4000-8000-000000000000"));
	owners[0] = rs2;
	CHECK(pod_match_owner_next(t, pod, owners, 1, &next, err, sizeof(err)) == -ESTALE);
	CHECK(strstr(err, "recreated") != NULL);
	CHECK(pod_match_pod(t, pod, owners, 2, &r, err, sizeof(err)) == -ESTALE);
	/* list items have no kind: taken from the reference */
	json_object_set_new(json_object_get(rs2, "metadata"), "uid",
			    json_string("c2a8e5d1-6b4f-4a7c-8e3d-91f0b2c4a6d8"));
	json_object_del(rs2, "kind");
	json_object_del(rs2, "apiVersion");
	owners[1] = deploy;
	CHECK(pod_match_pod(t, pod, owners, 2, &r, err, sizeof(err)) == 0);
	CHECK(r.verdict == POD_MATCH_YES);
	pod_match_result_free(&r);
	owners[0] = rs;
	json_decref(rs2);

	/* malformed pods */
	{
		json_t *p = json_deep_copy(pod);
		json_object_del(json_object_get(p, "metadata"), "uid");
		CHECK(pod_match_pod(t, p, owners, 2, &r, err, sizeof(err)) == -EINVAL);
		json_object_del(json_object_get(p, "metadata"), "namespace");
		CHECK(pod_match_owner_next(t, p, NULL, 0, &next, err, sizeof(err)) == -EINVAL);
		json_decref(p);
		p = json_deep_copy(pod);
		json_object_del(json_object_get(p, "spec"), "containers");
		CHECK(pod_match_pod(t, p, owners, 2, &r, err, sizeof(err)) == -EINVAL);
		CHECK(r.containers == NULL);
		json_decref(p);
	}
	pod_match_target_free(t);
}

static void test_container_ids(json_t *pod0)
{
	static const struct {
		const char *in;
		int rc;
		const char *runtime;
	} cases[] = {
	    {"containerd://" ID_DEMO_C0, 0, "containerd"},
	    {"docker://" ID_DEMO_C0, 0, "docker"},
	    {"cri-o://" ID_DEMO_C0, 0, "cri-o"},
	    {"containerd://" ID_DEMO_C0 "0", -EINVAL, NULL},
	    {"containerd://56d6dbfa5f38", -EINVAL, NULL},
	    {"containerd://56D6DBFA5F38C5F127617EEE1474988E84B8EB409A94E0D911F22FB53CEC6ECE",
	     -EINVAL, NULL},
	    {"containerd://56d6dbfa5f38c5f127617eee1474988e84b8eb409a94e0d911f22fb53cec6ecg",
	     -EINVAL, NULL},
	    {"virtlet://" ID_DEMO_C0, -EINVAL, NULL},
	    {ID_DEMO_C0, -EINVAL, NULL},
	    {"", -EINVAL, NULL},
	};
	struct pod_match_target *t;
	struct pod_match_result r;
	json_t *pod, *st;
	int fetches;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char id[65] = "";
		const char *rt = NULL;
		int rc = pod_match_container_id(cases[i].in, id, &rt);
		CHECK(rc == cases[i].rc);
		if (!rc) {
			CHECK_STR(id, ID_DEMO_C0);
			CHECK_STR(rt, cases[i].runtime);
		}
	}

	/* in a pod: a bad id is counted, not returned; an empty one waits */
	pod = json_deep_copy(pod0);
	st = json_object_get(json_object_get(pod, "status"), "containerStatuses");
	json_object_set_new(json_array_get(st, 0), "containerID",
			    json_string("virtlet://" ID_DEMO_C0));
	json_object_set_new(json_array_get(st, 1), "containerID", json_string(""));
	t = target("Deployment", "demo-4", NULL, "", "BPF", NULL, 0);
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 0 && r.n_bad_id == 1 &&
	      r.n_waiting == 1);
	pod_match_result_free(&r);
	/* no status at all yet (just scheduled) */
	json_object_del(json_object_get(pod, "status"), "containerStatuses");
	CHECK(decide(t, pod, &r, &fetches) == 0);
	CHECK(r.verdict == POD_MATCH_YES && r.n_containers == 0 && r.n_waiting == 2);
	pod_match_result_free(&r);
	pod_match_target_free(t);
	json_decref(pod);
}

static void test_verdict_strings(void)
{
	CHECK_STR(pod_match_verdict_str(POD_MATCH_YES), "match");
	CHECK_STR(pod_match_verdict_str(POD_MATCH_NO_LABEL), "workload lacks the match label");
	CHECK(strlen(pod_match_verdict_str(POD_MATCH_NO_SELECTOR)) > 0);
}

int main(void)
{
	static const char *const files[] = {
	    "pod-demo-4.json",
	    "replicaset-demo-4.json",
	    "deployment-demo-4.json",
	    "pod-web-0.json",
	    "statefulset-web.json",
	    "pod-node-agent.json",
	    "daemonset-node-agent.json",
	    "pod-bare.json",
	    "pod-legacy.json",
	    "replicaset-legacy.json",
	    "pod-job.json",
	    "pod-kruise.json",
	};
	json_t *f[12];

	for (size_t i = 0; i < 12; i++) {
		f[i] = load(files[i]);
		CHECK(f[i] != NULL);
		if (!f[i])
			return TEST_SUMMARY();
	}
	/* what the API server holds: the workloads */
	objs[n_objs++] = f[1];
	objs[n_objs++] = f[2];
	objs[n_objs++] = f[4];
	objs[n_objs++] = f[6];
	objs[n_objs++] = f[9];

	test_selector_semantics();
	test_selector_malformed();
	test_target_new();
	test_seed_deployment(f[0]);
	test_partial_unconfined(f[0]);
	test_container_list(f[0]);
	test_deployment_verdicts(f[0], f[2]);
	test_kind_pod(f[0], f[7]);
	test_statefulset(f[3]);
	test_daemonset(f[5]);
	test_other_owners(f[8], f[10], f[11]);
	test_owner_errors(f[0], f[1], f[2], f[4]);
	test_container_ids(f[0]);
	test_verdict_strings();
	for (size_t i = 0; i < 12; i++)
		json_decref(f[i]);
	return TEST_SUMMARY();
}
