#include "target.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The syscalls every BehaviorModeling filter allows without logging. */
static const char *const always_allowed[] = {"open", "openat", "openat2", "close", "read", "write"};

/* The cgroup2 mount point, from /proc/self/mountinfo. */
static int find_cgroup2_root(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 ");
		char mnt[1024];
		if (!sep)
			continue;
		/* Fields: id parent major:minor root mount-point ... */
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1) {
			snprintf(out, len, "%s", mnt);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -errno;
}

static int target_make_cgroup(struct target *t, const char *name)
{
	char root[1024], parent[1100];
	struct stat st;
	int rc = find_cgroup2_root(root, sizeof(root));

	if (rc < 0)
		return rc;
	snprintf(parent, sizeof(parent), "%s/armorsmith", root);
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(t->cgroup_rel, sizeof(t->cgroup_rel), "/armorsmith/%.200s-%d", name,
		 (int)getpid());
	snprintf(t->cgroup_abs, sizeof(t->cgroup_abs), "%s%s", root, t->cgroup_rel);
	if (mkdir(t->cgroup_abs, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (stat(t->cgroup_abs, &st) < 0)
		return -errno;
	t->cgroup_id = st.st_ino; /* a cgroup2 directory's inode is the kernel's cgroup id */
	return 0;
}

/* A new audit session for the whole target tree: writing the login uid makes
 * the kernel hand out a fresh session id, which every record of the tree
 * then carries as ses=. */
static uint32_t child_new_audit_session(void)
{
	char buf[32] = "";
	unsigned long current = 4294967295UL, ses = 0;
	FILE *f = fopen("/proc/self/loginuid", "re");

	if (f) {
		if (fscanf(f, "%lu", &current) != 1)
			current = 4294967295UL;
		fclose(f);
	}
	snprintf(buf, sizeof(buf), "%lu",
		 current == 4294967295UL ? (unsigned long)getuid() : current);
	if (write_file("/proc/self/loginuid", buf) < 0)
		return 0;
	f = fopen("/proc/self/sessionid", "re");
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &ses) != 1 || ses == 4294967295UL)
		ses = 0;
	fclose(f);
	return (uint32_t)ses;
}

static int child_install_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_LOG);
	int rc;

	if (!ctx)
		return -ENOMEM;
#if defined(__x86_64__)
	/* Log 32-bit and x32 calls too instead of killing them as foreign. */
	seccomp_arch_add(ctx, SCMP_ARCH_X86);
	seccomp_arch_add(ctx, SCMP_ARCH_X32);
#endif
	for (size_t i = 0; i < sizeof(always_allowed) / sizeof(always_allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(always_allowed[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* e.g. no open(2) on arm64 */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0)
			goto out;
	}
	/* A runtime only sets no_new_privs when the pod asks; root can load
	 * the filter without it, so setuid programs keep working. */
	if (geteuid() == 0)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return rc;
}

static void child_main(struct target *t, int go_rd, int info_wr, int err_wr, char *const argv[])
{
	char pid[16], go;
	uint32_t ses;
	int e;

	if (t->cgroup_abs[0]) {
		char procs[1700];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", t->cgroup_abs);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (write_file(procs, pid) < 0)
			t->cgroup_abs[0] = '\0';
	}
	ses = child_new_audit_session();
	if (write(info_wr, &ses, sizeof(ses)) != sizeof(ses))
		_exit(126);
	close(info_wr);
	if (read(go_rd, &go, 1) != 1)
		_exit(126); /* the parent went away before modeling started */
	close(go_rd);
	e = t->log_filter ? child_install_filter() : 0;
	if (e < 0) {
		e = -e;
		if (write(err_wr, &e, sizeof(e)) < 0)
			_exit(126);
		_exit(126);
	}
	execvp(argv[0], argv);
	e = errno;
	if (write(err_wr, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int target_prepare(struct target *t, const char *name, char *const argv[], bool log_filter,
		   char *err, size_t errlen)
{
	int go[2] = {-1, -1}, info[2] = {-1, -1}, ex[2] = {-1, -1};
	uint32_t ses = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	t->go_fd = t->exec_err_fd = -1;
	t->log_filter = log_filter;
	rc = target_make_cgroup(t, name);
	if (rc < 0) {
		log_warn("no cgroup v2 for the target (%s); attributing by audit session only",
			 strerror(-rc));
		t->cgroup_rel[0] = t->cgroup_abs[0] = '\0';
	}
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(info, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create pipes for the target: %s", strerror(errno));
		goto fail;
	}
	t->pid = fork();
	if (t->pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot fork the target: %s", strerror(errno));
		goto fail;
	}
	if (t->pid == 0) {
		close(go[1]);
		close(info[0]);
		close(ex[0]);
		child_main(t, go[0], info[1], ex[1], argv);
	}
	close(go[0]);
	close(info[1]);
	close(ex[1]);
	go[0] = info[1] = ex[1] = -1;
	if (read(info[0], &ses, sizeof(ses)) != sizeof(ses)) {
		rc = -ECHILD;
		snprintf(err, errlen, "the target process died while being set up");
		goto fail;
	}
	close(info[0]);
	t->audit_session = ses;
	t->go_fd = go[1];
	t->exec_err_fd = ex[0];
	if (!ses)
		log_warn("the kernel gave the target no audit session; attributing by cgroup");
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (info[i] >= 0)
			close(info[i]);
		if (ex[i] >= 0)
			close(ex[i]);
	}
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
		t->pid = 0;
	}
	target_cleanup(t);
	return rc;
}

int target_start(struct target *t, char *err, size_t errlen)
{
	int e = 0;
	ssize_t n;

	if (write(t->go_fd, "g", 1) != 1) {
		snprintf(err, errlen, "cannot signal the target to start: %s", strerror(errno));
		return -EIO;
	}
	close(t->go_fd);
	t->go_fd = -1;
	/* EOF means exec succeeded (the pipe is close-on-exec). */
	n = read(t->exec_err_fd, &e, sizeof(e));
	close(t->exec_err_fd);
	t->exec_err_fd = -1;
	t->started = true;
	if (n == sizeof(e)) {
		snprintf(err, errlen, "cannot start the command: %s", strerror(e));
		return -e;
	}
	return 0;
}

int target_wait(struct target *t, int64_t deadline_ns, int *status)
{
	for (;;) {
		pid_t r = waitpid(t->pid, status, WNOHANG);

		if (r == t->pid) {
			t->pid = 0;
			return 1;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (deadline_ns && time_now_ns() >= deadline_ns)
			return 0;
		usleep(20000);
	}
}

/* Signals every process in the target's cgroup; returns how many there were. */
static int signal_cgroup(const struct target *t, int sig)
{
	char path[1700];
	FILE *f;
	int pid, n = 0;

	if (!t->cgroup_abs[0])
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", t->cgroup_abs);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1) {
		kill(pid, sig);
		n++;
	}
	fclose(f);
	return n;
}

void target_terminate(struct target *t, int64_t grace_ns)
{
	int64_t until = time_now_ns() + grace_ns;
	int status;

	if (t->pid > 0)
		kill(t->pid, SIGTERM);
	signal_cgroup(t, SIGTERM);
	while (time_now_ns() < until) {
		if (t->pid > 0 && waitpid(t->pid, &status, WNOHANG) == t->pid)
			t->pid = 0;
		if (t->pid <= 0 && signal_cgroup(t, 0) == 0)
			return;
		usleep(20000);
	}
	if (t->pid > 0)
		kill(t->pid, SIGKILL);
	signal_cgroup(t, SIGKILL);
	if (t->pid > 0) {
		waitpid(t->pid, &status, 0);
		t->pid = 0;
	}
}

void target_cleanup(struct target *t)
{
	if (t->go_fd >= 0)
		close(t->go_fd);
	if (t->exec_err_fd >= 0)
		close(t->exec_err_fd);
	t->go_fd = t->exec_err_fd = -1;
	if (t->cgroup_abs[0]) {
		/* Processes may linger for a moment after SIGKILL. */
		for (int i = 0; i < 100 && rmdir(t->cgroup_abs) < 0 && errno == EBUSY; i++)
			usleep(10000);
		t->cgroup_abs[0] = '\0';
	}
}
