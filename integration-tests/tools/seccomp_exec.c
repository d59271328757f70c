/* seccomp-exec PROFILE.json COMMAND [ARGS...]
 *
 * Loads a seccomp profile in the OCI/vArmor JSON form that armorsmith writes
 * (defaultAction, syscalls[].names, syscalls[].action) with libseccomp, the
 * way runc does, and execs COMMAND under it. A test tool: it lets the
 * integration tests prove a generated profile lets the workload run and
 * denies what it never did. */
#include <errno.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int parse_action(const char *s, uint32_t *out)
{
	if (strcmp(s, "SCMP_ACT_ALLOW") == 0)
		*out = SCMP_ACT_ALLOW;
	else if (strcmp(s, "SCMP_ACT_ERRNO") == 0)
		*out = SCMP_ACT_ERRNO(EPERM); /* runc's default errno */
	else if (strcmp(s, "SCMP_ACT_LOG") == 0)
		*out = SCMP_ACT_LOG;
	else if (strcmp(s, "SCMP_ACT_KILL") == 0)
		*out = SCMP_ACT_KILL;
	else
		return -EINVAL;
	return 0;
}

static int load_profile(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *groups, *g;
	scmp_filter_ctx ctx = NULL;
	uint32_t def;
	size_t i, j;
	int rc = -EINVAL;

	if (!root) {
		fprintf(stderr, "seccomp-exec: cannot read %s: %s\n", path, jerr.text);
		return -EINVAL;
	}
	if (!json_is_string(json_object_get(root, "defaultAction")) ||
	    parse_action(json_string_value(json_object_get(root, "defaultAction")), &def) < 0) {
		fprintf(stderr, "seccomp-exec: %s: bad defaultAction\n", path);
		goto out;
	}
	ctx = seccomp_init(def);
	if (!ctx)
		goto out;
	groups = json_object_get(root, "syscalls");
	json_array_foreach(groups, i, g)
	{
		json_t *names = json_object_get(g, "names"), *n;
		uint32_t act;

		if (!json_is_string(json_object_get(g, "action")) ||
		    parse_action(json_string_value(json_object_get(g, "action")), &act) < 0) {
			fprintf(stderr, "seccomp-exec: %s: bad action in group %zu\n", path, i);
			goto out;
		}
		json_array_foreach(names, j, n)
		{
			int nr = seccomp_syscall_resolve_name(json_string_value(n));
			if (nr == __NR_SCMP_ERROR) {
				fprintf(stderr, "seccomp-exec: unknown syscall %s ignored\n",
					json_string_value(n));
				continue;
			}
			if (act != def && (rc = seccomp_rule_add(ctx, act, nr, 0)) < 0) {
				fprintf(stderr, "seccomp-exec: cannot add %s: %s\n",
					json_string_value(n), strerror(-rc));
				goto out;
			}
		}
	}
	if (geteuid() == 0)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	rc = seccomp_load(ctx);
	if (rc < 0)
		fprintf(stderr, "seccomp-exec: cannot load filter: %s\n", strerror(-rc));
out:
	if (ctx)
		seccomp_release(ctx);
	json_decref(root);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: seccomp-exec PROFILE.json COMMAND [ARGS...]\n");
		return 2;
	}
	if (load_profile(argv[1]) < 0)
		return 125;
	execvp(argv[2], &argv[2]);
	/* write is allowed by every armorsmith profile, so this is seen. */
	fprintf(stderr, "seccomp-exec: cannot exec %s: %s\n", argv[2], strerror(errno));
	return 126;
}
