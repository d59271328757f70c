#include "profile_apparmor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "testing.h"

static const char *parser_path(void)
{
	static const char *const candidates[] = {"/usr/sbin/apparmor_parser",
						 "/sbin/apparmor_parser"};

	for (size_t i = 0; i < 2; i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/* The kernel here has no AppArmor, but the parser can still compile a
 * profile without loading it: the syntax check that matters. */
static void check_compiles(const char *text, const char *what)
{
	const char *parser = parser_path();
	char file[] = "/tmp/armorsmith-aa-XXXXXX";
	char cmd[512];
	int fd, status;

	if (!parser) {
		printf("skip: apparmor_parser not installed, %s not compiled\n", what);
		return;
	}
	fd = mkstemp(file);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s -Q -K --skip-kernel-load %s >/dev/null 2>%s.err", parser,
		 file, file);
	status = system(cmd);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char errfile[600];
		char *err;

		snprintf(errfile, sizeof(errfile), "%s.err", file);
		err = NULL;
		FILE *f = fopen(errfile, "r");
		if (f) {
			size_t n = 0;
			getdelim(&err, &n, '\0', f);
			fclose(f);
		}
		fprintf(stderr, "apparmor_parser rejected %s:\n%s\n%s\n", what, err ? err : "",
			text);
		free(err);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(file);
	snprintf(cmd, sizeof(cmd), "%s.err", file);
	unlink(cmd);
}

static void seed_model(struct behavior_model *m)
{
	static const char *const files[][2] = {
	    {"/usr/lib/x86_64-linux-gnu/**", "rm"},
	    {"/etc/shadow", "r"},
	    {"/dev/tty", "wr"},
	    {"/etc/group", "r"},
	    {"/etc/ld.so.cache", "r"},
	    {"/etc/nsswitch.conf", "r"},
	    {"/etc/passwd", "r"},
	    {"/proc/filesystems", "r"},
	    {"/proc/sys/kernel/ngroups_max", "r"},
	    {"/root/c1", "rw"},
	    {"/usr/bin/id", "r"},
	    {"/usr/bin/sleep", "r"},
	    {"/usr/bin/unshare", "r"},
	    {"/etc/passwd", "r"},
	};

	m->profile_name = strdup("varmor-cluster-varmor-demo-4");
	strlist_add(&m->execs, "/usr/bin/unshare");
	strlist_add(&m->execs, "/usr/bin/id");
	strlist_add(&m->execs, "/usr/bin/sleep");
	strlist_add(&m->execs, "/usr/bin/id");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		behavior_model_add_file(m, files[i][0], files[i][1], true, NULL);
	/* Execution shows up as a file access too; only EXEC grants it. */
	behavior_model_add_file(m, "/usr/bin/id", "x", true, NULL);
	strlist_add(&m->capabilities, "sys_admin");
	/* Observed but template-only sections: no rule of their own. */
	behavior_model_add_network(m, "inet", "stream", "tcp", "10.0.0.1", 443);
	behavior_model_add_ptrace(m, "unconfined", "read");
	behavior_model_add_signal(m, "unconfined", "term", "receive");
	behavior_model_add_mount(m, "umount", "/mnt", "", "", "");
}

static void test_seed_profile(void)
{
	struct behavior_model m = {0};
	char *expected =
	    testing_read_source_file("consumers/builder/testdata/seed_profile.apparmor");
	char *out = NULL;

	seed_model(&m);
	CHECK(profile_apparmor_generate(&m, &out) == 0);
	CHECK_STR(out, expected);
	if (out)
		check_compiles(out, "the seed profile");
	free(out);
	free(expected);
	behavior_model_free(&m);
}

static const char empty_profile[] =
    "\n## == Managed by vArmor == ##\n\nabi <abi/3.0>,\n#include <tunables/global>\n\n"
    "profile p flags=(attach_disconnected,mediate_deleted) {\n\n"
    "  #include <abstractions/base>\n\n"
    "  # ---- EXEC ----\n\n"
    "  # ---- FILE ----\n\n"
    "  # ---- CAPABILITY ----\n\n"
    "  # ---- NETWORK ----\n  network,\n\n"
    "  # ---- PTRACE ----\n"
    "  ## suppress ptrace denials when using 'docker ps' or using 'ps' inside a container\n"
    "  ptrace (trace,read,tracedby,readby) peer=p,\n\n"
    "  # ---- SIGNAL ----\n"
    "  ## host (privileged) processes may send signals to container processes.\n"
    "  signal (receive) peer=unconfined,\n"
    "  ## container processes may send signals amongst themselves.\n"
    "  signal (send,receive) peer=p,\n\n"
    "  # ---- ADDITIONAL ----\n  umount,\n\n}\n";

static void test_empty_sections(void)
{
	struct behavior_model m = {0};
	char *out = NULL;

	m.profile_name = strdup("p");
	CHECK(profile_apparmor_generate(&m, &out) == 0);
	CHECK_STR(out, empty_profile);
	free(out);
	behavior_model_free(&m);
}

/* Returns the text between the FILE header and the next section. */
static char *section(const char *text, const char *title)
{
	char head[64];
	const char *start, *end;

	snprintf(head, sizeof(head), "  # ---- %s ----\n", title);
	start = strstr(text, head);
	if (!start)
		return NULL;
	start += strlen(head);
	end = strstr(start, "\n  # ----");
	if (!end)
		end = strstr(start, "\n}\n");
	return strndup(start, (size_t)(end - start));
}

static void test_hostile_paths(void)
{
	struct behavior_model m = {0};
	char *out = NULL, *files = NULL, *execs = NULL;

	m.profile_name = strdup("hostile.profile_1");
	behavior_model_add_file(&m, "/tmp/x, /** rwx,\n", "rw", true, NULL);
	behavior_model_add_file(&m, "/tmp/a\"b\\c", "r", false, NULL);
	behavior_model_add_file(&m, "/tmp/@{HOME}/k", "r", false, NULL);
	behavior_model_add_file(&m, "/tmp/a*b?[c]{d}^e", "r", false, NULL);
	behavior_model_add_file(&m, "/tmp/***", "r", false, NULL);
	behavior_model_add_file(&m, "/tmp/\xc3\xa9\x01\x7f", "r", false, NULL);
	behavior_model_add_file(&m, "/tmp/#x", "wa", false, NULL);
	behavior_model_add_file(&m, "/tmp/tab\there", "a", false, NULL);
	behavior_model_add_file(&m, "/proc/*/maps", "r", false, NULL);
	behavior_model_add_file(&m, "/data/**", "rwlk", true, NULL);
	behavior_model_add_file(&m, "/data/*/**/x", "r", false, NULL);
	strlist_add(&m.execs, "/usr/bin/a b");
	strlist_add(&m.execs, "/usr/bin/ok-1.2_x+y~z:w@v%u=t");
	CHECK(profile_apparmor_generate(&m, &out) == 0);
	if (!out)
		goto cleanup;
	files = section(out, "FILE");
	execs = section(out, "EXEC");
	/* One rule per input line, each matching only its literal name. */
	CHECK_STR(files, "  \"/tmp/#x\" w,\n"
			 "  \"/tmp/@\\{HOME\\}/k\" r,\n"
			 "  \"/tmp/\\*\\*\\*\" r,\n"
			 "  \"/tmp/\\303\\251\\001\\177\" r,\n"
			 "  \"/tmp/a\\\"b\\134c\" r,\n"
			 "  \"/tmp/a\\*b\\?\\[c\\]\\{d\\}\\^e\" r,\n"
			 "  \"/tmp/tab\\011here\" a,\n"
			 "  /data/*/**/x r,\n"
			 "  /proc/*/maps r,\n"
			 "  owner \"/tmp/x, /\\*\\* rwx,\\012\" rw,\n"
			 "  owner /data/** klrw,\n");
	CHECK_STR(execs, "  \"/usr/bin/a b\" ix,\n"
			 "  /usr/bin/ok-1.2_x+y~z:w@v%u=t ix,\n");
	check_compiles(out, "the hostile-path profile");
cleanup:
	free(files);
	free(execs);
	free(out);
	behavior_model_free(&m);
}

/* Found by fuzz_apparmor_profile: with a backslash written as \\, a name
 * ending in one ended its string in \\", which apparmor_parser's lexer reads
 * as a quote inside the string, running it on to the next rule's quote. */
static void test_trailing_backslash(void)
{
	struct behavior_model m = {0};
	char *out = NULL, *files = NULL;

	m.profile_name = strdup("backslash");
	behavior_model_add_file(&m, "/data/a\\", "r", false, NULL);
	behavior_model_add_file(&m, "/data/b c", "r", false, NULL);
	behavior_model_add_file(&m, "/data/\\\"", "r", false, NULL);
	CHECK(profile_apparmor_generate(&m, &out) == 0);
	if (!out)
		goto cleanup;
	files = section(out, "FILE");
	CHECK_STR(files, "  \"/data/\\134\\\"\" r,\n"
			 "  \"/data/a\\134\" r,\n"
			 "  \"/data/b c\" r,\n");
	check_compiles(out, "the trailing-backslash profile");
cleanup:
	free(files);
	free(out);
	behavior_model_free(&m);
}

/* Found by fuzz_apparmor_profile: a bare mount source "fstype=e" was read
 * by apparmor_parser as the condition fstype=e, not as the source. */
static void test_mount_source_not_a_condition(void)
{
	struct behavior_model m = {0};
	char *out = NULL, *add = NULL;

	m.profile_name = strdup("mount-source");
	behavior_model_add_mount(&m, "mount", "/mnt/a", "fstype=e", "", "");
	behavior_model_add_mount(&m, "mount", "/mnt/b", "options=rw", "ext4", "ro");
	behavior_model_add_mount(&m, "mount", "/mnt/c", "+x", "", "");
	behavior_model_add_mount(&m, "mount", "/mnt/d", "dev-1.x_y", "", "");
	CHECK(profile_apparmor_generate(&m, &out) == 0);
	if (!out)
		goto cleanup;
	add = section(out, "ADDITIONAL");
	CHECK_STR(add, "  umount,\n"
		       "  mount \"+x\" -> /mnt/c,\n"
		       "  mount \"fstype=e\" -> /mnt/a,\n"
		       "  mount dev-1.x_y -> /mnt/d,\n"
		       "  mount fstype=ext4 options=(ro) \"options=rw\" -> /mnt/b,\n");
	check_compiles(out, "the mount-source profile");
cleanup:
	free(add);
	free(out);
	behavior_model_free(&m);
}

static void test_mounts(void)
{
	struct behavior_model m = {0};
	char *out = NULL, *add = NULL;

	m.profile_name = strdup("mounts");
	behavior_model_add_mount(&m, "mount", "/mnt/x", "tmpfs", "tmpfs", "rw, nosuid,rw");
	behavior_model_add_mount(&m, "mount", "/mnt/b y", "/host/dir", "", "bind");
	behavior_model_add_mount(&m, "mount", "/mnt/q", "", "fuse.sshfs", "");
	behavior_model_add_mount(&m, "remount", "/mnt/x", "", "tmpfs", "ro");
	behavior_model_add_mount(&m, "pivot_root", "/new", "/new/old", "", "");
	behavior_model_add_mount(&m, "umount", "/mnt/x", "", "", "");
	CHECK(profile_apparmor_generate(&m, &out) == 0);
	if (!out)
		goto cleanup;
	add = section(out, "ADDITIONAL");
	CHECK_STR(add, "  umount,\n"
		       "  mount fstype=fuse.sshfs -> /mnt/q,\n"
		       "  mount fstype=tmpfs options=(nosuid,rw) tmpfs -> /mnt/x,\n"
		       "  mount options=(bind) /host/dir -> \"/mnt/b y\",\n"
		       "  pivot_root oldroot=/new/old /new,\n"
		       "  remount options=(ro) /mnt/x,\n");
	check_compiles(out, "the mount profile");
cleanup:
	free(add);
	free(out);
	behavior_model_free(&m);
}

static int generate_with(const char *name, void (*fill)(struct behavior_model *))
{
	struct behavior_model m = {0};
	char *out = (char *)"sentinel";
	int ret;

	m.profile_name = name ? strdup(name) : NULL;
	if (fill)
		fill(&m);
	ret = profile_apparmor_generate(&m, &out);
	if (ret)
		CHECK(out == NULL);
	else
		free(out);
	behavior_model_free(&m);
	return ret;
}

static void relative_file(struct behavior_model *m)
{
	behavior_model_add_file(m, "etc/passwd", "r", false, NULL);
}
static void empty_exec(struct behavior_model *m)
{
	strlist_add(&m->execs, "");
}
static void bad_perm(struct behavior_model *m)
{
	behavior_model_add_file(m, "/etc/passwd", "r,", false, NULL);
}
static void upper_cap(struct behavior_model *m)
{
	strlist_add(&m->capabilities, "CAP_SYS_ADMIN");
}
static void injected_cap(struct behavior_model *m)
{
	strlist_add(&m->capabilities, "sys_admin,\n  file");
}
static void bad_flag(struct behavior_model *m)
{
	behavior_model_add_mount(m, "mount", "/mnt", "none", "tmpfs", "rw,size=1m");
}
static void bad_fstype(struct behavior_model *m)
{
	behavior_model_add_mount(m, "mount", "/mnt", "none", "tmpfs -> /,", "");
}
static void bad_operation(struct behavior_model *m)
{
	behavior_model_add_mount(m, "mount,", "/mnt", "", "", "");
}
static void relative_mountpoint(struct behavior_model *m)
{
	behavior_model_add_mount(m, "mount", "mnt", "", "tmpfs", "");
}
static void exec_only_file(struct behavior_model *m)
{
	behavior_model_add_file(m, "/bin/sh", "ix", false, NULL);
}

static void test_rejects(void)
{
	static const char *const bad_names[] = {"",    "a b", "a\"b", "a\nb", "-x",
						"a,b", "a/b", "x{y}", "p\t"};

	CHECK(generate_with(NULL, NULL) == -EINVAL);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		CHECK(generate_with(bad_names[i], NULL) == -EINVAL);
	CHECK(generate_with("ok", relative_file) == -EINVAL);
	CHECK(generate_with("ok", empty_exec) == -EINVAL);
	CHECK(generate_with("ok", bad_perm) == -EINVAL);
	CHECK(generate_with("ok", upper_cap) == -EINVAL);
	CHECK(generate_with("ok", injected_cap) == -EINVAL);
	CHECK(generate_with("ok", bad_flag) == -EINVAL);
	CHECK(generate_with("ok", bad_fstype) == -EINVAL);
	CHECK(generate_with("ok", bad_operation) == -EINVAL);
	CHECK(generate_with("ok", relative_mountpoint) == -EINVAL);
	CHECK(generate_with("ok", exec_only_file) == 0);
}

/* The builder's lenient mode: odd behaviors are left out and counted, the
 * rest of the profile is still written. */
static void test_lenient_generation_skips_bad_rules(void)
{
	struct behavior_model m = {0};
	char *text = NULL;
	size_t skipped = 99;

	m.profile_name = strdup("lenient");
	strlist_add(&m.capabilities, "sys_admin");
	strlist_add(&m.capabilities, "41");
	behavior_model_add_mount(&m, "mount", "/mnt/a", "tmpfs", "tmpfs", "rw,size=1m");
	behavior_model_add_mount(&m, "mount", "/mnt/b", "tmpfs", "tmpfs", "rw,nosuid");
	behavior_model_add_file(&m, "/etc/hosts", "r", false, NULL);
	behavior_model_normalize(&m);
	CHECK(profile_apparmor_generate(&m, &text) == -EINVAL);
	CHECK(profile_apparmor_generate_ex(&m, &text, &skipped) == 0);
	CHECK(skipped == 2);
	CHECK(text && strstr(text, "  capability sys_admin,\n") != NULL);
	CHECK(text && strstr(text, "41") == NULL);
	CHECK(text && strstr(text, "/mnt/b") != NULL && strstr(text, "/mnt/a") == NULL);
	CHECK(text && strstr(text, "  /etc/hosts r,\n") != NULL);
	free(text);
	behavior_model_free(&m);
}

int main(void)
{
	test_lenient_generation_skips_bad_rules();
	test_seed_profile();
	test_empty_sections();
	test_hostile_paths();
	test_trailing_backslash();
	test_mount_source_not_a_condition();
	test_mounts();
	test_rejects();
	return TEST_SUMMARY();
}
