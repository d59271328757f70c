/* securityContext proposals on hand-built models. */
#include "behavior_data.h"
#include "secctx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing.h"

static int model_from(const char *enforcer, const char *dynamic_result, struct behavior_data *bd)
{
	char text[8192], err[512] = "";
	json_error_t jerr;
	json_t *root;
	int ret;

	snprintf(text, sizeof(text),
		 "{\"kind\":\"ArmorProfileModel\",\"metadata\":{\"name\":\"web\","
		 "\"namespace\":\"shop\"},\"data\":{\"dynamicResult\":%s,"
		 "\"profile\":{\"name\":\"varmor-shop-web\",\"enforcer\":\"%s\"}}}",
		 dynamic_result, enforcer);
	root = json_loads(text, 0, &jerr);
	if (!root)
		return -EINVAL;
	ret = behavior_data_parse(root, "test", bd, err, sizeof(err));
	if (ret)
		fprintf(stderr, "%s\n", err);
	json_decref(root);
	return ret;
}

static bool any_has(const struct strlist *l, const char *what)
{
	for (size_t i = 0; i < l->len; i++)
		if (strstr(l->items[i], what))
			return true;
	fprintf(stderr, "  no evidence line has \"%s\"\n", what);
	return false;
}

static char *patch_text(const struct behavior_data *bd, const struct secctx_options *o,
			const struct secctx_proposal *p)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	if (secctx_print_patch(f, bd, o, p) != 0) {
		fclose(f);
		free(out);
		return NULL;
	}
	fclose(f);
	return out;
}

static void test_quiet_workload(void)
{
	struct secctx_options o = {.exec_root = NULL};
	struct secctx_proposal p;
	struct behavior_data bd;
	char *text;

	CHECK(model_from("AppArmorSeccomp",
			 "{\"apparmor\":{\"executions\":[\"/usr/local/bin/app\"],"
			 "\"files\":[{\"path\":\"/tmp/**\",\"permissions\":[\"r\",\"w\"]},"
			 "{\"path\":\"/dev/null\",\"permissions\":[\"w\"]},"
			 "{\"path\":\"/data/db\",\"permissions\":[\"w\"]},"
			 "{\"path\":\"/etc/app.conf\",\"permissions\":[\"r\"]}]},"
			 "\"seccomp\":{\"syscalls\":[\"read\",\"write\"]}}",
			 &bd) == 0);
	CHECK(strlist_add(&o.volumes, "/data") == 0);
	CHECK(strlist_add(&o.containers, "web") == 0);
	CHECK(secctx_propose(&bd, &o, &p) == 0);
	CHECK(p.have_lsm_data);
	CHECK(p.add_capabilities.len == 0);
	CHECK(p.propose_ape && !p.allow_privilege_escalation);
	CHECK(p.propose_read_only && p.read_only_root_filesystem);
	CHECK(p.temp_mounts.len == 1 && strcmp(p.temp_mounts.items[0], "/tmp") == 0);
	CHECK(p.propose_non_root && p.run_as_non_root);
	CHECK_STR(p.seccomp_profile, "varmor-shop-web");
	text = patch_text(&bd, &o, &p);
	CHECK(text && strstr(text, "spec:\n  template:\n    spec:\n      containers:\n"
				   "      - name: \"web\"\n        securityContext:\n"));
	CHECK(text && strstr(text, "          privileged: false\n"));
	CHECK(text && strstr(text, "          allowPrivilegeEscalation: false\n"));
	CHECK(text && strstr(text, "          capabilities:\n            drop:\n            - ALL\n"
				   "            add: []\n"));
	CHECK(text && strstr(text, "          readOnlyRootFilesystem: true\n"));
	CHECK(text && strstr(text, "          runAsNonRoot: true\n"));
	CHECK(text && strstr(text, "          seccompProfile:\n            type: Localhost\n"
				   "            localhostProfile: \"varmor-shop-web\"\n"));
	CHECK(text && strstr(text, "        volumeMounts:\n        - name: armorsmith-tmp\n"
				   "          mountPath: /tmp\n      volumes:\n"
				   "      - name: armorsmith-tmp\n        emptyDir: {}\n"));
	free(text);
	secctx_proposal_free(&p);
	behavior_data_free(&bd);
	strlist_free(&o.volumes);
	strlist_free(&o.containers);
}

static void test_privileged_workload(const char *dir)
{
	struct secctx_options o = {.exec_root = dir};
	struct secctx_proposal p;
	struct behavior_data bd;
	char path[4200], *text;
	int fd;

	/* a setuid program of our own under the exec root */
	snprintf(path, sizeof(path), "%s/helper", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0755);
	CHECK(fd >= 0);
	close(fd);
	CHECK(chmod(path, 04755) == 0);

	CHECK(
	    model_from("AppArmorSeccomp",
		       "{\"apparmor\":{\"executions\":[\"/helper\",\"/bin/true\"],"
		       "\"capabilities\":[\"net_bind_service\",\"cap_chown\",\"net_bind_service\"],"
		       "\"files\":[{\"path\":\"/var/cache/nginx/x\",\"permissions\":[\"w\"]},"
		       "{\"path\":\"/etc/bad\\npath: 1\",\"permissions\":[\"a\"]}]},"
		       "\"seccomp\":{\"syscalls\":[\"read\",\"setuid\"]}}",
		       &bd) == 0);
	CHECK(secctx_propose(&bd, &o, &p) == 0);
	CHECK(p.add_capabilities.len == 2);
	CHECK_STR(p.add_capabilities.items[0], "CHOWN");
	CHECK_STR(p.add_capabilities.items[1], "NET_BIND_SERVICE");
	CHECK(any_has(&p.capabilities_evidence,
		      "NET_BIND_SERVICE: exercised (data.dynamicResult.apparmor.capabilities[0])"));
	CHECK(p.propose_ape && p.allow_privilege_escalation);
	CHECK(any_has(&p.ape_evidence, "/helper was executed"));
	CHECK(any_has(&p.ape_evidence, "setuid on this machine (mode 4755)"));
	CHECK(p.propose_read_only && !p.read_only_root_filesystem);
	CHECK(any_has(&p.read_only_evidence, "mount a volume at /var/cache/nginx"));
	CHECK(!p.propose_non_root);
	CHECK(any_has(&p.non_root_evidence, "CAP_CHOWN was exercised"));
	CHECK(any_has(&p.non_root_evidence, "the syscall setuid was used"));
	text = patch_text(&bd, &o, &p);
	/* the newline in the path cannot break out of its comment */
	CHECK(text && !strstr(text, "\npath: 1"));
	CHECK(text && strstr(text, "/etc/bad?path: 1"));
	CHECK(text && strstr(text, "      - name: \"CONTAINER\"\n"));
	CHECK(text && strstr(text, "            add:\n            - CHOWN\n"
				   "            - NET_BIND_SERVICE\n"));
	CHECK(text && strstr(text, "readOnlyRootFilesystem: false\n"));
	CHECK(text && !strstr(text, "          runAsNonRoot:"));
	CHECK(text && !strstr(text, "volumes:"));
	free(text);
	secctx_proposal_free(&p);
	behavior_data_free(&bd);
	unlink(path);
}

static void test_sys_admin_and_usual_setuid(void)
{
	struct secctx_options o = {.exec_root = "/nonexistent-root"};
	struct secctx_proposal p;
	struct behavior_data bd;

	CHECK(model_from("BPFSeccomp",
			 "{\"bpf\":{\"capabilities\":[\"sys_admin\"],\"executions\":[\"/bin/su\"],"
			 "\"mounts\":[{\"path\":\"/mnt\"}]}}",
			 &bd) == 0);
	CHECK(secctx_propose(&bd, &o, &p) == 0);
	CHECK(p.allow_privilege_escalation);
	CHECK(any_has(&p.ape_evidence, "distributions install su setuid"));
	CHECK(any_has(&p.ape_evidence, "Kubernetes refuses"));
	CHECK(any_has(&p.privileged_evidence, "mounts were observed"));
	CHECK(p.seccomp_profile == NULL);
	secctx_proposal_free(&p);
	behavior_data_free(&bd);
}

static void test_seccomp_only_model(void)
{
	struct secctx_options o = {.exec_root = "/"};
	struct secctx_proposal p;
	struct behavior_data bd;
	char *text;

	CHECK(model_from("Seccomp",
			 "{\"apparmor\":{\"profiles\":[\"x\"]},"
			 "\"seccomp\":{\"syscalls\":[\"read\",\"execve\"]}}",
			 &bd) == 0);
	CHECK(secctx_propose(&bd, &o, &p) == 0);
	CHECK(!p.have_lsm_data && !p.propose_ape && !p.propose_read_only && !p.propose_non_root);
	CHECK(any_has(&p.capabilities_evidence, "enforcer is Seccomp"));
	CHECK(p.seccomp_profile != NULL);
	text = patch_text(&bd, &o, &p);
	CHECK(text && !strstr(text, "          capabilities:\n") &&
	      !strstr(text, "          allowPrivilegeEscalation:"));
	CHECK(text && strstr(text, "privileged: false") && strstr(text, "type: Localhost"));
	free(text);
	secctx_proposal_free(&p);
	behavior_data_free(&bd);
}

int main(void)
{
	char dir[] = "/tmp/secctx_test.XXXXXX";

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_quiet_workload();
	test_privileged_workload(dir);
	test_sys_admin_and_usual_setuid();
	test_seccomp_only_model();
	rmdir(dir);
	return TEST_SUMMARY();
}
