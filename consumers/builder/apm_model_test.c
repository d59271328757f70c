#include "apm_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "profile_apparmor.h"
#include "profile_seccomp.h"
#include "testing.h"

static void seed_model(struct behavior_model *m)
{
	m->profile_name = strdup("varmor-cluster-varmor-demo-4");
	m->namespace = strdup("varmor");
	m->enforcer = strdup("AppArmorSeccomp");
	strlist_add(&m->execs, "/usr/bin/id");
	strlist_add(&m->execs, "/usr/bin/sleep");
	strlist_add(&m->execs, "/usr/bin/unshare");
	behavior_model_add_file(m, "/etc/shadow", "r", true, NULL);
	behavior_model_add_file(m, "/root/c1", "wr", true, NULL);
	behavior_model_add_file(m, "/usr/lib/x86_64-linux-gnu/**", "rm", true, NULL);
	behavior_model_add_file(m, "/tmp/new", "w", false, "/tmp/old");
	strlist_add(&m->capabilities, "sys_admin");
	strlist_add(&m->syscalls, "read");
	strlist_add(&m->syscalls, "unshare");
	strlist_add(&m->syscalls, "execve");
	behavior_model_add_mount(m, "mount", "/mnt/x", "tmpfs", "tmpfs", "rw,nosuid");
	m->desired_nodes = 3;
	m->completed_nodes = 2;
	strlist_add(&m->failed_nodes, "node-b: no report before the grace period ended");
	behavior_model_normalize(m);
}

/* True when no value anywhere in j is null: optional parts are left out. */
static bool no_nulls(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_null(j))
		return false;
	if (json_is_object(j)) {
		json_object_foreach(j, key, v) if (!no_nulls(v)) return false;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) if (!no_nulls(v)) return false;
	}
	return true;
}

static const char *get_str(json_t *root, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	json_t *j = root;

	for (char *tok = strtok_r(copy, ".", &save); j && tok; tok = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, (size_t)atoi(tok))
				     : json_object_get(j, tok);
	free(copy);
	return json_string_value(j);
}

static json_t *get(json_t *root, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	json_t *j = root;

	for (char *tok = strtok_r(copy, ".", &save); j && tok; tok = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, (size_t)atoi(tok))
				     : json_object_get(j, tok);
	free(copy);
	return j;
}

static void test_seed_object(const char *outdir)
{
	struct behavior_model m = {0};
	char *aa = NULL, *sc = NULL;
	json_t *o = NULL;

	seed_model(&m);
	CHECK(profile_apparmor_generate(&m, &aa) == 0);
	CHECK(profile_seccomp_generate(&m, &sc) == 0);
	CHECK(apm_model_build(&m, aa, sc, &o) == 0);
	if (!o)
		goto cleanup;
	CHECK_STR(get_str(o, "apiVersion"), "crd.varmor.org/v1beta1");
	CHECK_STR(get_str(o, "kind"), "ArmorProfileModel");
	CHECK_STR(get_str(o, "metadata.name"), "varmor-cluster-varmor-demo-4");
	CHECK_STR(get_str(o, "metadata.namespace"), "varmor");
	CHECK_STR(get_str(o, "storageType"), "CRDInternal");
	CHECK_STR(get_str(o, "data.profile.name"), "varmor-cluster-varmor-demo-4");
	CHECK_STR(get_str(o, "data.profile.enforcer"), "AppArmorSeccomp");
	CHECK_STR(get_str(o, "data.profile.mode"), "enforce");
	CHECK_STR(get_str(o, "data.profile.content"), aa);
	CHECK_STR(get_str(o, "data.profile.seccompContent"), sc);
	CHECK(json_array_size(get(o, "data.dynamicResult.seccomp.syscalls")) == 3);
	CHECK_STR(get_str(o, "data.dynamicResult.seccomp.syscalls.0"), "execve");
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.profiles.0"),
		  "varmor-cluster-varmor-demo-4");
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.executions.2"), "/usr/bin/unshare");
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.capabilities.0"), "sys_admin");
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.files.0.path"), "/etc/shadow");
	CHECK(json_is_true(get(o, "data.dynamicResult.apparmor.files.0.owner")));
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.files.1.permissions.0"), "r");
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.files.1.permissions.1"), "w");
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.files.2.oldPath"), "/tmp/old");
	CHECK(get(o, "data.dynamicResult.apparmor.files.2.owner") == NULL);
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.unhandled.0"),
		  "mount: operation=mount path=/mnt/x source=tmpfs fstype=tmpfs flags=rw,nosuid");
	CHECK(get(o, "data.dynamicResult.apparmor.networks") == NULL);
	CHECK(json_integer_value(get(o, "status.desiredNumber")) == 3);
	CHECK(json_integer_value(get(o, "status.completedNumber")) == 2);
	CHECK(json_is_true(get(o, "status.ready")));
	CHECK_STR(get_str(o, "status.conditions.0.type"), "Ready");
	CHECK_STR(get_str(o, "status.conditions.0.status"), "False");
	CHECK_STR(get_str(o, "status.conditions.0.nodeName"), "node-b");
	CHECK_STR(get_str(o, "status.conditions.0.message"),
		  "no report before the grace period ended");
	CHECK(no_nulls(o));
	if (outdir) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/sample.armorprofilemodel.json", outdir);
		CHECK(apm_model_write_json(o, path) == 0);
		snprintf(path, sizeof(path), "%s/sample.armorprofilemodel.yaml", outdir);
		CHECK(apm_model_write_yaml(o, path) == 0);
	}
cleanup:
	json_decref(o);
	free(aa);
	free(sc);
	behavior_model_free(&m);
}

/* Strings that trip naive YAML writers; loading the YAML must give them back. */
static const char *const tricky[] = {
    "",
    "yes",
    "No",
    "null",
    "~",
    "123",
    "0x1f",
    "1e3",
    ".5",
    "-",
    "- x",
    "#c",
    "a: b",
    "a #b",
    " lead",
    "trail ",
    "@x",
    "`x",
    "%x",
    "!x",
    "&x",
    "*x",
    "|x",
    ">x",
    "'q'",
    "\"dq\"",
    "\xc3\xa9",
    "\x01ctl",
    "\t",
    "[a]",
    "{a: 1}",
    "<<",
    "=",
    "2001-12-14",
    "1:20",
    "\n",
    "a\n\nb\n\n",
    " a\nb",
    "a\n b \n",
    "tab\tend\n",
    "\r\n",
    "x\\y",
    "/tmp/x, /** rwx,\n",
    "\xef\xbb\xbf"
    "bom",
    "on",
    "OFF",
    "y",
};

static void test_tricky_strings(const char *outdir)
{
	struct behavior_model m = {0};
	json_t *o = NULL;
	char path[4096];

	m.profile_name = strdup("tricky");
	m.enforcer = strdup("BPFSeccomp");
	for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		char *node = NULL;

		CHECK(asprintf(&node, "node-%zu: %s", i, tricky[i]) > 0);
		strlist_add(&m.failed_nodes, node);
		strlist_add(&m.execs, tricky[i]);
		free(node);
	}
	/* Not UTF-8: each bad byte becomes U+FFFD instead of failing the model. */
	behavior_model_add_file(&m, "/tmp/\xff\xc3(", "r", false, NULL);
	CHECK(apm_model_build(&m, "line 1\n  line 2 \n", NULL, &o) == 0);
	if (!o)
		goto cleanup;
	CHECK_STR(get_str(o, "data.dynamicResult.apparmor.files.0.path"),
		  "/tmp/\xef\xbf\xbd\xef\xbf\xbd(");
	CHECK(get(o, "data.profile.seccompContent") == NULL);
	CHECK(get(o, "data.dynamicResult.seccomp") == NULL);
	CHECK(no_nulls(o));
	if (outdir) {
		snprintf(path, sizeof(path), "%s/tricky.armorprofilemodel.json", outdir);
		CHECK(apm_model_write_json(o, path) == 0);
		snprintf(path, sizeof(path), "%s/tricky.armorprofilemodel.yaml", outdir);
		CHECK(apm_model_write_yaml(o, path) == 0);
	}
cleanup:
	json_decref(o);
	behavior_model_free(&m);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *data = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (getdelim(&data, &n, '\0', f) < 0) {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

static void test_files(void)
{
	struct behavior_model m = {0};
	char dir[] = "/tmp/armorsmith-apm-XXXXXX";
	char jpath[128], ypath[128];
	json_t *o = NULL, *back = NULL;
	char *text = NULL, *ytext = NULL;

	seed_model(&m);
	CHECK(mkdtemp(dir) != NULL);
	CHECK(apm_model_build(&m, "x\n", "{}", &o) == 0);
	snprintf(jpath, sizeof(jpath), "%s/m.json", dir);
	snprintf(ypath, sizeof(ypath), "%s/m.yaml", dir);
	CHECK(apm_model_write_json(o, jpath) == 0);
	CHECK(apm_model_write_yaml(o, ypath) == 0);
	back = json_load_file(jpath, 0, NULL);
	CHECK(back && json_equal(o, back));
	text = slurp(jpath);
	CHECK(text && strncmp(text, "{\n  \"apiVersion\": \"crd.varmor.org/v1beta1\",\n", 44) == 0);
	CHECK(text && text[strlen(text) - 1] == '\n' && text[strlen(text) - 2] == '}');
	ytext = slurp(ypath);
	CHECK(ytext &&
	      strncmp(ytext, "apiVersion: crd.varmor.org/v1beta1\nkind: ArmorProfileModel\n", 59) ==
		  0);
	/* Writing into a missing directory fails cleanly and leaves nothing. */
	CHECK(apm_model_write_json(o, "/nonexistent-dir/x.json") < 0);
	CHECK(apm_model_write_yaml(o, "/nonexistent-dir/x.yaml") < 0);
	unlink(jpath);
	unlink(ypath);
	CHECK(rmdir(dir) == 0); /* no temporary file left behind */
	free(text);
	free(ytext);
	json_decref(back);
	json_decref(o);
	behavior_model_free(&m);
}

static void test_rejects(void)
{
	static const char *const bad_names[] = {"", "Upper", "a b", "-a", "a-", "a..b", "a_b"};
	struct behavior_model m = {0};
	json_t *o = NULL;

	seed_model(&m);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		free(m.profile_name);
		m.profile_name = strdup(bad_names[i]);
		CHECK(apm_model_build(&m, NULL, NULL, &o) == -EINVAL);
		CHECK(o == NULL);
	}
	free(m.profile_name);
	m.profile_name = strdup("a.b-c");
	free(m.namespace);
	m.namespace = strdup("a.b");
	CHECK(apm_model_build(&m, NULL, NULL, &o) == -EINVAL);
	free(m.namespace);
	m.namespace = NULL;
	CHECK(apm_model_build(&m, NULL, NULL, &o) == 0);
	CHECK(o && get(o, "metadata.namespace") == NULL);
	CHECK(o && json_is_false(get(o, "status.ready")));
	json_decref(o);
	o = NULL;
	free(m.enforcer);
	m.enforcer = NULL;
	CHECK(apm_model_build(&m, NULL, NULL, &o) == -EINVAL);
	m.enforcer = strdup("AppArmor");
	m.desired_nodes = 0x80000000u;
	CHECK(apm_model_build(&m, NULL, NULL, &o) == -EINVAL);
	behavior_model_free(&m);
}

static void write_sample(json_t *o, const char *outdir, const char *name)
{
	char path[4096];

	if (!outdir || !o)
		return;
	snprintf(path, sizeof(path), "%s/%s.armorprofilemodel.json", outdir, name);
	CHECK(apm_model_write_json(o, path) == 0);
	snprintf(path, sizeof(path), "%s/%s.armorprofilemodel.yaml", outdir, name);
	CHECK(apm_model_write_yaml(o, path) == 0);
}

static void peer_model(struct behavior_model *m, bool bpf)
{
	m->profile_name = strdup(bpf ? "bpf-sample" : "peers-sample");
	m->namespace = strdup("default");
	m->enforcer = strdup(bpf ? "BPFSeccomp" : "AppArmor");
	m->bpf_data = bpf;
	strlist_add(&m->execs, "/usr/bin/curl");
	strlist_add(&m->capabilities, "net_raw");
	behavior_model_add_file(m, "/etc/hosts", "r", false, NULL);
	behavior_model_add_network(m, "inet", "stream", "tcp", "10.0.0.1", 443);
	behavior_model_add_network(m, "inet", "stream", "tcp", "10.0.0.1", 80);
	behavior_model_add_network(m, "inet", "raw", "icmp", "", 0);
	behavior_model_add_ptrace(m, "sleep", "trace");
	behavior_model_add_signal(m, "sleep", "term", "send");
	behavior_model_add_mount(m, "mount", "/mnt/x", "tmpfs", "tmpfs", "rw,nosuid");
	m->desired_nodes = m->completed_nodes = 1;
	behavior_model_normalize(m);
}

/* Behavior the AppArmor record kinds carry beyond files, and the same from
 * BPF, land in the CRD's own fields for each source. */
static void test_peers_and_bpf_objects(const char *outdir)
{
	struct behavior_model a = {0}, b = {0};
	json_t *oa = NULL, *ob = NULL;

	peer_model(&a, false);
	peer_model(&b, true);
	CHECK(apm_model_build(&a, NULL, NULL, &oa) == 0);
	CHECK(apm_model_build(&b, NULL, NULL, &ob) == 0);
	if (!oa || !ob)
		goto out;
	CHECK_STR(get_str(oa, "data.dynamicResult.apparmor.networks.sockets.0.domain"), "inet");
	CHECK(json_array_size(get(oa, "data.dynamicResult.apparmor.networks.sockets")) == 2);
	CHECK_STR(get_str(oa, "data.dynamicResult.apparmor.networks.egresses.0.ip"), "10.0.0.1");
	CHECK(json_array_size(get(oa, "data.dynamicResult.apparmor.networks.egresses.0.ports")) ==
	      2);
	CHECK_STR(get_str(oa, "data.dynamicResult.apparmor.ptraces.0.permissions.0"), "trace");
	CHECK_STR(get_str(oa, "data.dynamicResult.apparmor.signals.0.signals.0"), "term");
	CHECK(get(oa, "data.dynamicResult.bpf") == NULL);

	CHECK_STR(get_str(ob, "data.dynamicResult.bpf.executions.0"), "/usr/bin/curl");
	CHECK_STR(get_str(ob, "data.dynamicResult.bpf.network.egresses.0.ip"), "10.0.0.1");
	CHECK_STR(get_str(ob, "data.dynamicResult.bpf.mounts.0.type"), "tmpfs");
	CHECK_STR(get_str(ob, "data.dynamicResult.bpf.mounts.0.flags.1"), "nosuid");
	CHECK_STR(get_str(ob, "data.dynamicResult.bpf.ptraces.0.peer"), "sleep");
	/* The CRD has no BPF field for signals: vArmor's unhandled holds them. */
	CHECK_STR(get_str(ob, "data.dynamicResult.apparmor.unhandled.0"),
		  "signal: permissions=send signal=term peer=sleep");
	CHECK(get(ob, "data.dynamicResult.apparmor.executions") == NULL);
	CHECK(no_nulls(oa) && no_nulls(ob));
	write_sample(oa, outdir, "peers");
	write_sample(ob, outdir, "bpf");
out:
	json_decref(oa);
	json_decref(ob);
	behavior_model_free(&a);
	behavior_model_free(&b);
}

int main(void)
{
	/* ARMORSMITH_TEST_OUT: where integration-tests/test_crd_schema.py reads
	 * the sample objects from; unset, nothing is kept. */
	const char *outdir = getenv("ARMORSMITH_TEST_OUT");

	if (outdir && *outdir)
		mkdir(outdir, 0755);
	else
		outdir = NULL;
	test_seed_object(outdir);
	test_tricky_strings(outdir);
	test_peers_and_bpf_objects(outdir);
	test_files();
	test_rejects();
	return TEST_SUMMARY();
}
