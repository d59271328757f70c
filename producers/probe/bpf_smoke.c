/* bpf-smoke -- CMD [ARGS...]: runs CMD in a fresh cgroup v2 child under BPF
 * capture and prints each distinct behavior as a line, then the syscalls,
 * then the capture counters (stderr). Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf_capture.h"

static volatile sig_atomic_t child_pid;

/* The command ends the capture: a signal to us goes to it, and we clean up
 * (the cgroup) once it exited. */
static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static const char *const kind_names[] = {"exec",   "file",   "network", "capability",
					 "ptrace", "signal", "mount"};

static void print_behavior(const struct bpf_behavior *b, void *ctx)
{
	(void)ctx;
	printf("%s", kind_names[b->kind]);
	switch (b->kind) {
	case BPF_B_EXEC:
		printf(" %s", b->path);
		break;
	case BPF_B_FILE:
		printf(" %s %s", b->path, b->perms);
		if (b->old_path[0])
			printf(" from=%s", b->old_path);
		break;
	case BPF_B_NETWORK:
		printf(" %s %s %s %s", b->operation, b->family, b->sock_type,
		       b->protocol[0] ? b->protocol : "-");
		if (b->address[0])
			printf(" %s%s%s:%u", strchr(b->address, ':') ? "[" : "", b->address,
			       strchr(b->address, ':') ? "]" : "", b->port);
		break;
	case BPF_B_CAPABILITY:
		printf(" %s", b->capability);
		break;
	case BPF_B_PTRACE:
		printf(" %s peer=%s", b->ptrace_perms, b->peer);
		break;
	case BPF_B_SIGNAL:
		printf(" %s peer=%s", b->signal, b->peer);
		break;
	case BPF_B_MOUNT:
		printf(" %s %s", b->mount_op, b->path);
		if (b->old_path[0])
			printf(" source=%s", b->old_path);
		if (b->fstype[0])
			printf(" fstype=%s", b->fstype);
		if (b->flags[0])
			printf(" flags=%s", b->flags);
		break;
	}
	printf(" (%s %u)\n", b->comm, b->pid);
}

static void print_syscall(int nr, void *ctx)
{
	uint32_t arch = *(uint32_t *)ctx;
	char *name = seccomp_syscall_resolve_num_arch(
	    arch == AUDIT_ARCH_X86_64 ? SCMP_ARCH_X86_64 : SCMP_ARCH_X86, nr);

	printf("syscall%s %s\n", arch == AUDIT_ARCH_I386 ? "/i386" : "", name ? name : "?");
	free(name);
}

static int cgroup2_root(char *out, size_t outlen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -1;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - cgroup2 ");
		char mnt[2048];

		if (sep && sscanf(line, "%*s %*s %*s %*s %2047s", mnt) == 1) {
			snprintf(out, outlen, "%s", mnt);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	char err[512], root[2048], cg[2300], procs[2400], pidbuf[32];
	struct bpf_capture *c = NULL;
	struct bpf_capture_stats st;
	int go[2] = {-1, -1}, status = 0, ret = 1, fd;
	uint32_t arch;
	struct stat sb;
	pid_t child = -1;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: bpf-smoke -- CMD [ARGS...]\n");
		return 2;
	}
	if (cgroup2_root(root, sizeof(root))) {
		fprintf(stderr, "bpf-smoke: no cgroup2 mount in /proc/self/mountinfo\n");
		return 1;
	}
	snprintf(cg, sizeof(cg), "%s/armorsmith-smoke-%d", root, (int)getpid());
	if (mkdir(cg, 0755) || stat(cg, &sb)) {
		fprintf(stderr, "bpf-smoke: creating cgroup %s: %s\n", cg, strerror(errno));
		return 1;
	}
	if (bpf_capture_open(&c, err, sizeof(err))) {
		fprintf(stderr, "bpf-smoke: %s\n", err);
		goto cleanup;
	}
	if (bpf_capture_add_run(c, 1, sb.st_ino)) {
		fprintf(stderr, "bpf-smoke: adding run\n");
		goto cleanup;
	}
	if (pipe2(go, O_CLOEXEC))
		goto cleanup;
	child = fork();
	if (child < 0)
		goto cleanup;
	if (child == 0) {
		char b;

		close(go[1]);
		/* Wait until the parent moved us into the cgroup. */
		if (read(go[0], &b, 1) != 1)
			_exit(127);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "bpf-smoke: exec %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	child_pid = child;
	signal(SIGINT, forward);
	signal(SIGTERM, forward);
	close(go[0]);
	go[0] = -1;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)child);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pidbuf, strlen(pidbuf)) < 0) {
		fprintf(stderr, "bpf-smoke: joining cgroup: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		goto cleanup;
	}
	close(fd);
	if (write(go[1], "g", 1) != 1)
		goto cleanup;
	close(go[1]);
	go[1] = -1;
	for (;;) {
		pid_t w = waitpid(child, &status, WNOHANG);

		bpf_capture_poll(c, 50, print_behavior, NULL);
		if (w == child)
			break;
	}
	while (bpf_capture_poll(c, 0, print_behavior, NULL) > 0)
		;
	arch = AUDIT_ARCH_X86_64;
	bpf_capture_syscalls(c, 1, arch, print_syscall, &arch);
	arch = AUDIT_ARCH_I386;
	bpf_capture_syscalls(c, 1, arch, print_syscall, &arch);
	if (bpf_capture_stats(c, &st) == 0)
		fprintf(stderr,
			"bpf-smoke: events %llu, dedup hits %llu, ring buffer drops %llu, "
			"dropped paths %llu\n",
			(unsigned long long)st.events, (unsigned long long)st.dedup_hits,
			(unsigned long long)st.ringbuf_drops, (unsigned long long)st.dropped_paths);
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

cleanup:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	bpf_capture_close(c);
	rmdir(cg);
	return ret;
}
