/* BPF capture against the real kernel: needs root and BPF, and fails (not
 * skips) without them. A child in a fresh cgroup v2 runs a known script of
 * operations; every one must come back with the right path and
 * permissions, once. The same script run outside the cgroup must add
 * nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bpf_capture.h"

#define RUN_ID 7
#define DEDUP_OPENS 1000

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			passed++;                                                                  \
		} else {                                                                           \
			failed++;                                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

struct seen {
	char **lines;
	size_t n, cap;
};

static void seen_add(struct seen *s, const char *line)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->lines = realloc(s->lines, s->cap * sizeof(*s->lines));
		if (!s->lines)
			abort();
	}
	s->lines[s->n] = strdup(line);
	if (!s->lines[s->n])
		abort();
	s->n++;
}

static size_t seen_count(const struct seen *s, const char *line)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += strcmp(s->lines[i], line) == 0;
	return n;
}

static bool seen_suffix(const struct seen *s, const char *prefix, const char *suffix)
{
	size_t ls = strlen(suffix);

	for (size_t i = 0; i < s->n; i++) {
		size_t l = strlen(s->lines[i]);

		if (!strncmp(s->lines[i], prefix, strlen(prefix)) && l >= ls &&
		    !strcmp(s->lines[i] + l - ls, suffix))
			return true;
	}
	return false;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	free(s->lines);
	memset(s, 0, sizeof(*s));
}

static void format_behavior(const struct bpf_behavior *b, char *line, size_t size)
{
	static const char *const kinds[] = {"exec",   "file",	"network", "capability",
					    "ptrace", "signal", "mount"};
	int n = snprintf(line, size, "%s", kinds[b->kind]);

	switch (b->kind) {
	case BPF_B_EXEC:
		snprintf(line + n, size - n, " %s", b->path);
		break;
	case BPF_B_FILE:
		n += snprintf(line + n, size - n, " %s %s", b->path, b->perms);
		if (b->old_path[0])
			snprintf(line + n, size - n, " from=%s", b->old_path);
		break;
	case BPF_B_NETWORK:
		n += snprintf(line + n, size - n, " %s %s %s %s", b->operation, b->family,
			      b->sock_type, b->protocol);
		if (b->address[0])
			snprintf(line + n, size - n, " %s:%u", b->address, b->port);
		break;
	case BPF_B_CAPABILITY:
		snprintf(line + n, size - n, " %s", b->capability);
		break;
	case BPF_B_PTRACE:
		snprintf(line + n, size - n, " %s peer=%s", b->ptrace_perms, b->peer);
		break;
	case BPF_B_SIGNAL:
		snprintf(line + n, size - n, " %s peer=%s", b->signal, b->peer);
		break;
	case BPF_B_MOUNT:
		snprintf(line + n, size - n, " %s %s source=%s fstype=%s flags=%s", b->mount_op,
			 b->path, b->old_path, b->fstype, b->flags);
		break;
	}
	if (getenv("BPF_CAPTURE_TEST_VERBOSE"))
		fprintf(stderr, "  run %u: %s\n", b->run_id, line);
}

static void on_behavior(const struct bpf_behavior *b, void *ctx)
{
	char line[9000];

	format_behavior(b, line, sizeof(line));
	seen_add(ctx, line);
}

/* The same, prefixed with the run the behavior was attributed to. */
static void on_behavior_run(const struct bpf_behavior *b, void *ctx)
{
	char line[9000];
	int n = snprintf(line, sizeof(line), "run=%u ", b->run_id);

	format_behavior(b, line + n, sizeof(line) - n);
	seen_add(ctx, line);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

struct script {
	const char *dir; /* absolute, symlink-free */
	const char *cg;	 /* the run's cgroup, or NULL outside */
	int port;	 /* a loopback TCP listener the test owns */
	/* listeners (127.0.0.1 and ::1) the script accepts on: inherited
	 * from the test, made outside the run */
	int acc4, acc4_port, acc6, acc6_port;
	bool mounts;
};

static void join_cgroup(const char *cg, const char *sub)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s/cgroup.procs", cg, sub);
	if (write_file(p, "0"))
		_exit(90);
}

/* Forks, runs fn in the child, waits; exits the caller on failure. */
static void in_child(void (*fn)(const struct script *), const struct script *s)
{
	pid_t p = fork();
	int st;

	if (p < 0)
		_exit(91);
	if (p == 0) {
		fn(s);
		_exit(0);
	}
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st))
		_exit(92);
}

static void exec_id(const struct script *s)
{
	int null = open("/dev/null", O_WRONLY);

	(void)s;
	dup2(null, 1);
	execl("/usr/bin/id", "id", (char *)NULL);
	_exit(93);
}

static void open_in(const char *dir, const char *sub, const char *name)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	(void)sub;
	fd = open(p, O_RDONLY);
	if (fd < 0)
		_exit(94);
	close(fd);
}

/* A cgroup created after add_run (cgroup_mkdir) and one that existed
 * before it (scanned at add_run) must both be attributed to the run. */
static void in_new_cgroup(const struct script *s)
{
	join_cgroup(s->cg, "later");
	open_in(s->dir, "later", "inlater.txt");
}

static void in_old_cgroup(const struct script *s)
{
	join_cgroup(s->cg, "earlier");
	open_in(s->dir, "earlier", "inearlier.txt");
}

static void traceme(const struct script *s)
{
	(void)s;
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}

static void open_ro(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		_exit(95);
	close(fd);
}

/* Maps the file PROT_READ at addr (MAP_FIXED when given) and returns the
 * mapping: no m yet. */
static void *map_ro(const char *path, void *addr)
{
	int fd = open(path, O_RDONLY);
	void *p;

	if (fd < 0)
		_exit(60);
	p = mmap(addr, 4096, PROT_READ, MAP_PRIVATE | (addr ? MAP_FIXED : 0), fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		_exit(61);
	return p;
}

/* mprotect adding PROT_EXEC to file mappings (m), one mprotect over two
 * adjacent ones (both m), one adding only PROT_WRITE (no m) and one of
 * anonymous memory (nothing). */
static void mprotect_script(const char *dir)
{
	char p[PATH_MAX];
	void *m, *two, *anon;

	snprintf(p, sizeof(p), "%s/mapx.bin", dir);
	m = map_ro(p, NULL);
	if (mprotect(m, 4096, PROT_READ | PROT_EXEC))
		_exit(62);
	munmap(m, 4096);
	snprintf(p, sizeof(p), "%s/mapw.bin", dir);
	m = map_ro(p, NULL);
	if (mprotect(m, 4096, PROT_READ | PROT_WRITE))
		_exit(63);
	munmap(m, 4096);
	two = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (two == MAP_FAILED)
		_exit(64);
	snprintf(p, sizeof(p), "%s/mapy1.bin", dir);
	map_ro(p, two);
	snprintf(p, sizeof(p), "%s/mapy2.bin", dir);
	map_ro(p, (char *)two + 4096);
	if (mprotect(two, 8192, PROT_READ | PROT_EXEC))
		_exit(65);
	munmap(two, 8192);
	anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED || mprotect(anon, 4096, PROT_READ | PROT_EXEC))
		_exit(66);
	munmap(anon, 4096);
}

/* Connects to a listener of the test and accepts that connection on it,
 * twice (one behavior). */
static void accept_from(int lsock, int family, int port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_loopback;
	for (int i = 0; i < 2; i++) {
		int c = socket(family, SOCK_STREAM, 0), a;

		if (c < 0 ||
		    connect(c, family == AF_INET ? (struct sockaddr *)&a4 : (struct sockaddr *)&a6,
			    family == AF_INET ? sizeof(a4) : sizeof(a6)))
			_exit(57);
		a = i ? accept(lsock, NULL, NULL) : accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0)
			_exit(58);
		close(a);
		close(c);
	}
}

static void on_usr2(int sig)
{
	(void)sig;
}

/* Two calls sys_exit never sees: a handler returns through rt_sigreturn
 * (which sets orig_ax to -1) and the raw exit call does not return. */
static void handler_then_exit(const struct script *s)
{
	(void)s;
	signal(SIGUSR2, on_usr2);
	raise(SIGUSR2);
	syscall(SYS_exit, 0);
}

static void script(const struct script *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char buf[64];
	int fd, dfd, sock;

	prctl(PR_SET_NAME, "armtest");
	if (chdir(s->dir))
		_exit(80);
	in_child(exec_id, s);

	/* files, by relative paths and dirfds */
	fd = open("created.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "one\n", 4) != 4)
		_exit(81);
	close(fd);
	fd = open("created.txt", O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0 || write(fd, "two\n", 4) != 4)
		_exit(82);
	close(fd);
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		_exit(83);
	fd = openat(dfd, "created.txt", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
		_exit(84);
	close(fd);
	if (renameat(dfd, "created.txt", dfd, "renamed.txt"))
		_exit(85);
	if (mkdirat(dfd, "sub", 0755))
		_exit(86);
	fd = openat(dfd, "sub/../viadot.txt", O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		_exit(87);
	close(fd);
	if (unlinkat(dfd, "renamed.txt", 0))
		_exit(88);

	/* network */
	sock = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(s->port);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
		_exit(70);
	close(sock);
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_port = 0;
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)))
		_exit(71);
	close(sock);
	accept_from(s->acc4, AF_INET, s->acc4_port);
	accept_from(s->acc6, AF_INET6, s->acc6_port);

	mprotect_script(s->dir);

	/* signal, capability, ptrace */
	signal(SIGUSR1, SIG_IGN);
	kill(getpid(), SIGUSR1);
	if (setuid(0))
		_exit(72);
	in_child(traceme, s);
	in_child(handler_then_exit, s);

	if (s->cg) {
		in_child(in_new_cgroup, s);
		in_child(in_old_cgroup, s);
	}

	/* dedup: one behavior, however often */
	for (int i = 0; i < DEDUP_OPENS; i++) {
		fd = openat(dfd, "dedup.txt", O_RDONLY);
		if (fd < 0)
			_exit(73);
		close(fd);
	}
	close(dfd);

	/* The walk-free check (seen_files) must not hide a file reached by
	 * a new path: its directory renamed, a second hard link. */
	open_ro("olddir/moved.txt");
	open_ro("olddir/moved.txt");
	if (rename("olddir", "newdir"))
		_exit(78);
	open_ro("newdir/moved.txt");
	open_ro("hl_a.txt");
	if (link("hl_a.txt", "hl_b.txt"))
		_exit(79);
	open_ro("hl_b.txt");

	if (s->mounts) {
		if (unshare(CLONE_NEWNS))
			_exit(74);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			_exit(75);
		if (mount("tmpfs", "sub", "tmpfs", MS_NOSUID, "size=1m"))
			_exit(76);
		if (umount2("sub", 0))
			_exit(77);
		/* the same dentry through another mount */
		if (mount("newdir", "sub", NULL, MS_BIND, NULL))
			_exit(68);
		open_ro("sub/moved.txt");
		if (umount2("sub", 0))
			_exit(69);
		/* mprotect of an overlayfs file: the VMA holds the real file,
		 * the workload knows it by the overlay path */
		{
			char opts[2 * PATH_MAX + 32];
			void *m;

			snprintf(opts, sizeof(opts), "lowerdir=%s/newdir:%s/lower2", s->dir,
				 s->dir);
			if (mount("overlay", "ovl", "overlay", 0, opts))
				_exit(56);
			m = map_ro("ovl/moved.txt", NULL);
			if (mprotect(m, 4096, PROT_READ | PROT_EXEC))
				_exit(55);
			munmap(m, 4096);
			if (umount2("ovl", 0))
				_exit(54);
		}
	}
}

/* A loopback TCP listener (127.0.0.1 or ::1) on a free port. */
static int listener(int family, int *port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr *a = family == AF_INET ? (struct sockaddr *)&a4 : (struct sockaddr *)&a6;
	socklen_t len = family == AF_INET ? sizeof(a4) : sizeof(a6);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, a, len) || listen(fd, 16) || getsockname(fd, a, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? a4.sin_port : a6.sin6_port);
	return fd;
}

static int cgroup2_root(char *out, size_t outlen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -1;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f)) {
		char mnt[2048];

		if (strstr(line, " - cgroup2 ") &&
		    sscanf(line, "%*s %*s %*s %*s %2047s", mnt) == 1) {
			snprintf(out, outlen, "%s", mnt);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

static void join_pid(const char *cg, pid_t p)
{
	char procs[PATH_MAX], pid[32];
	int fd;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", (int)p);
	fd = open(procs, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		fprintf(stderr, "joining %s: %s\n", procs, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Runs fn(arg) in a child, in cgroup cg if given, polling meanwhile. */
static int run_in(struct bpf_capture *c, const char *cg, void (*fn)(const void *), const void *arg,
		  struct seen *seen)
{
	int go[2], st = -1;
	pid_t p;

	if (pipe(go))
		return -1;
	p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		char b;

		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(99);
		fn(arg);
		_exit(0);
	}
	close(go[0]);
	if (cg)
		join_pid(cg, p);
	if (write(go[1], "g", 1) != 1)
		return -1;
	close(go[1]);
	for (;;) {
		pid_t w = waitpid(p, &st, WNOHANG);

		bpf_capture_poll(c, 20, on_behavior, seen);
		if (w == p)
			break;
	}
	while (bpf_capture_poll(c, 50, on_behavior, seen) > 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void script_fn(const void *arg)
{
	script(arg);
}

static int run_script(struct bpf_capture *c, const struct script *s, struct seen *seen)
{
	return run_in(c, s->cg, script_fn, s, seen);
}

/* One open and one syscall nobody else in the test child makes. */
struct pod_op {
	const char *path;
	long nr;
};

static void pod_op_fn(const void *arg)
{
	const struct pod_op *op = arg;

	open_ro(op->path);
	syscall(op->nr);
}

#define RUN_POLL 11

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The programs do not wake the reader for each behavior: a reader already
 * waiting in bpf_capture_poll() must still get one that arrives while it
 * waits, long before its timeout. */
static void test_poll_unwoken(struct bpf_capture *c, const char *root, const char *dir)
{
	char cg[2600], path[PATH_MAX], line[PATH_MAX + 32];
	struct seen seen = {0};
	struct stat st;
	int go[2], status, n;
	int64_t t0, waited;
	pid_t p;

	snprintf(cg, sizeof(cg), "%s/armorsmith-bpf-test-%d-poll", root, (int)getpid());
	snprintf(path, sizeof(path), "%s/polled.txt", dir);
	if (mkdir(cg, 0755) || stat(cg, &st) || write_file(path, "x") || pipe(go)) {
		CHECK(0, "setting up the poll test: %s", strerror(errno));
		return;
	}
	CHECK(bpf_capture_add_run(c, RUN_POLL, st.st_ino) == 0, "add_run poll");
	p = fork();
	if (p == 0) {
		char b;

		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(99);
		usleep(300 * 1000); /* the parent is waiting by now */
		open_ro(path);
		_exit(0);
	}
	close(go[0]);
	if (p > 0)
		join_pid(cg, p);
	if (p < 0 || write(go[1], "g", 1) != 1) {
		CHECK(0, "starting the poll child: %s", strerror(errno));
		goto out;
	}
	t0 = now_ms();
	n = bpf_capture_poll(c, 10000, on_behavior, &seen);
	waited = now_ms() - t0;
	CHECK(n >= 1, "a wait of 10 s returned %d behaviors after %lld ms", n, (long long)waited);
	CHECK(waited < 5000, "the behavior came back only after %lld ms", (long long)waited);
	waitpid(p, &status, 0);
	while (bpf_capture_poll(c, 50, on_behavior, &seen) > 0)
		;
	snprintf(line, sizeof(line), "file %s r", path);
	CHECK(seen_count(&seen, line) == 1, "\"%s\" seen %zu times", line, seen_count(&seen, line));
out:
	close(go[1]);
	CHECK(bpf_capture_remove_run(c, RUN_POLL) == 0, "remove_run poll");
	seen_free(&seen);
	rmdir(cg);
}

#define RUN_POD 8

/* A run over several cgroups (one per container of a pod): two siblings
 * in the run, a third beside them that is not; then one of the two leaves
 * the run (bpf_capture_remove_cgroup) while the run goes on. */
static void syscall_bit(int nr, void *ctx);

static void test_pod(struct bpf_capture *c, const char *root, const char *dir)
{
	const char *names[] = {"pod-a", "pod-b", "pod-x"};
	char cg[3][2600], path[4][PATH_MAX], line[PATH_MAX + 32];
	uint64_t id[3];
	unsigned char bits[1024] = {0};
	struct seen seen = {0};
	struct stat st;
	int ret;

	for (int i = 0; i < 3; i++) {
		snprintf(cg[i], sizeof(cg[i]), "%s/armorsmith-bpf-test-%d-%s", root, (int)getpid(),
			 names[i]);
		if (mkdir(cg[i], 0755) || stat(cg[i], &st)) {
			CHECK(0, "creating cgroup %s: %s", cg[i], strerror(errno));
			goto done;
		}
		id[i] = st.st_ino;
	}
	for (int i = 0; i < 4; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/%s%s.txt", dir, i < 3 ? names[i] : "pod-b",
			 i < 3 ? "" : "-after");
		if (write_file(path[i], "x")) {
			CHECK(0, "creating %s", path[i]);
			goto done;
		}
	}
	CHECK(bpf_capture_add_run(c, RUN_POD, id[0]) == 0, "add_run pod-a");
	CHECK(bpf_capture_add_run(c, RUN_POD, id[1]) == 0, "add_run pod-b, same run");
	CHECK(bpf_capture_remove_cgroup(c, id[2]) == -ENOENT, "remove_cgroup of no run");
	{
		struct pod_op a = {path[0], 110 /* getppid */}, b = {path[1], 24 /* sched_yield */},
			      x = {path[2], 111 /* getpgrp */};

		ret = run_in(c, cg[0], pod_op_fn, &a, &seen);
		CHECK(ret == 0, "pod-a child exited %d", ret);
		ret = run_in(c, cg[1], pod_op_fn, &b, &seen);
		CHECK(ret == 0, "pod-b child exited %d", ret);
		ret = run_in(c, cg[2], pod_op_fn, &x, &seen);
		CHECK(ret == 0, "pod-x child exited %d", ret);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "file %.4000s r", path[i]);
		CHECK(seen_count(&seen, line) == (i < 2 ? 1u : 0u), "\"%s\" seen %zu times", line,
		      seen_count(&seen, line));
	}
	CHECK(bpf_capture_syscalls(c, RUN_POD, AUDIT_ARCH_X86_64, syscall_bit, bits) == 0,
	      "pod syscalls");
	CHECK(bits[110] && bits[24], "pod bitmap lacks getppid (pod-a) or sched_yield (pod-b)");
	CHECK(!bits[111], "pod bitmap has getpgrp, made only outside the run");

	CHECK(bpf_capture_remove_cgroup(c, id[1]) == 0, "remove_cgroup pod-b");
	{
		struct pod_op b = {path[3], 39 /* getpid */};

		ret = run_in(c, cg[1], pod_op_fn, &b, &seen);
		CHECK(ret == 0, "pod-b child exited %d", ret);
	}
	snprintf(line, sizeof(line), "file %.4000s r", path[3]);
	CHECK(seen_count(&seen, line) == 0, "pod-b after remove_cgroup: %s seen", line);
	memset(bits, 0, sizeof(bits));
	CHECK(bpf_capture_syscalls(c, RUN_POD, AUDIT_ARCH_X86_64, syscall_bit, bits) == 0 &&
		  !bits[39] && bits[110],
	      "pod bitmap after remove_cgroup: getpid %d, getppid %d", bits[39], bits[110]);
	CHECK(bpf_capture_remove_run(c, RUN_POD) == 0, "remove_run pod");

done:
	for (int i = 0; i < 3; i++)
		rmdir(cg[i]);
	for (int i = 0; i < 4; i++)
		unlink(path[i]);
	seen_free(&seen);
}

static void syscall_bit(int nr, void *ctx)
{
	unsigned char *bits = ctx;

	if (nr >= 0 && nr < 1024)
		bits[nr] = 1;
}

#define RUN_NS 9
#define RUN_NS_CG 10

/* A child that joins cgroup cg (if given) and unshares its mount
 * namespace, then per command line "NR PATH" makes syscall NR and opens
 * PATH, or with "x" runs /usr/bin/true; "q" ends it. */
struct worker {
	pid_t pid;
	int cmd, ack;
	uint64_t mnt_ns;
};

static void worker_loop(int cmd, int ack)
{
	char line[PATH_MAX + 32], path[PATH_MAX];
	FILE *in = fdopen(cmd, "r");
	long nr;

	while (in && fgets(line, sizeof(line), in) && line[0] != 'q') {
		if (line[0] == 'x') {
			pid_t e = fork();

			if (e == 0) {
				execl("/usr/bin/true", "true", (char *)NULL);
				_exit(52);
			}
			waitpid(e, NULL, 0);
		} else if (sscanf(line, "%ld %4095s", &nr, path) == 2) {
			int fd;

			syscall(nr);
			fd = open(path, O_RDONLY);
			if (fd >= 0)
				close(fd);
		}
		if (write(ack, "k", 1) != 1)
			_exit(53);
	}
	_exit(0);
}

static int worker_start(struct worker *w, const char *cg)
{
	int cmd[2], ack[2];
	char ns[64], b;
	struct stat st;

	w->pid = 0;
	if (pipe(cmd))
		return -1;
	if (pipe(ack)) {
		close(cmd[0]);
		close(cmd[1]);
		return -1;
	}
	w->pid = fork();
	if (w->pid < 0)
		return -1;
	if (w->pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		if (cg)
			join_cgroup(cg, ".");
		if (unshare(CLONE_NEWNS))
			_exit(50);
		if (write(ack[1], "r", 1) != 1)
			_exit(51);
		worker_loop(cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	w->cmd = cmd[1];
	w->ack = ack[0];
	if (read(w->ack, &b, 1) != 1)
		return -1;
	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)w->pid);
	if (stat(ns, &st))
		return -1;
	w->mnt_ns = st.st_ino;
	return 0;
}

/* Sends one command, waits for it to be done, then drains the capture. */
static int worker_do(struct bpf_capture *c, struct worker *w, const char *cmd, struct seen *seen)
{
	char b;

	if (write(w->cmd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || read(w->ack, &b, 1) != 1)
		return -1;
	while (bpf_capture_poll(c, 50, on_behavior_run, seen) > 0)
		;
	return 0;
}

static void worker_stop(struct worker *w)
{
	if (w->pid <= 0)
		return;
	if (write(w->cmd, "q\n", 2) != 2)
		kill(w->pid, SIGKILL);
	close(w->cmd);
	close(w->ack);
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
}

static bool seen_has(const struct seen *s, const char *needle)
{
	for (size_t i = 0; i < s->n; i++)
		if (strstr(s->lines[i], needle))
			return true;
	return false;
}

/* The mount namespace as a second key: workers outside every run's cgroup
 * (in the test's own) in unshared mount namespaces; A's is the run's, B's
 * is not; C is in another run's cgroup and in a namespace mapped to the
 * first run: the cgroup decides. The test itself, on the same CPU as the
 * workers (so the per-CPU memo sees them alternate), is in neither. */
static void test_mntns(struct bpf_capture *c, const char *root, const char *dir)
{
	static const char *const names[] = {"mntA", "mntB", "mntC", "mntM", "mntD", "mntE"};
	char cg[2600], path[6][PATH_MAX] = {{0}}, cmd[PATH_MAX + 32], line[PATH_MAX + 32];
	struct worker a = {0}, b = {0}, wc = {0};
	unsigned char bits[1024] = {0}, bits_cg[1024] = {0};
	cpu_set_t old_cpus, cpu0;
	struct seen seen = {0};
	struct stat st;
	bool pinned;
	int ret;

	pinned = sched_getaffinity(0, sizeof(old_cpus), &old_cpus) == 0;
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	pinned = pinned && sched_setaffinity(0, sizeof(cpu0), &cpu0) == 0;
	CHECK(pinned, "pinning to CPU 0: %s", strerror(errno));
	snprintf(cg, sizeof(cg), "%s/armorsmith-bpf-test-%d-mntns", root, (int)getpid());
	if (mkdir(cg, 0755) || stat(cg, &st)) {
		CHECK(0, "creating cgroup %s: %s", cg, strerror(errno));
		goto done;
	}
	for (int i = 0; i < 6; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/%s.txt", dir, names[i]);
		if (write_file(path[i], "x")) {
			CHECK(0, "creating %s", path[i]);
			goto done;
		}
	}
	if (stat("/proc/self/ns/mnt", &st) == 0)
		CHECK(bpf_capture_add_run_mntns(c, RUN_NS, st.st_ino) == -EINVAL,
		      "add_run_mntns of the caller's own namespace");
	CHECK(bpf_capture_add_run_mntns(c, RUN_NS, 0) == -EINVAL, "add_run_mntns 0");
	if (worker_start(&a, NULL) || worker_start(&b, NULL) || worker_start(&wc, cg)) {
		CHECK(0, "starting workers: %s", strerror(errno));
		goto done;
	}
	CHECK(a.mnt_ns != b.mnt_ns && a.mnt_ns != wc.mnt_ns, "workers share a mount namespace");
	if (stat(cg, &st) == 0)
		CHECK(bpf_capture_add_run(c, RUN_NS_CG, st.st_ino) == 0, "add_run mntns-cg");
	CHECK(bpf_capture_add_run_mntns(c, RUN_NS, a.mnt_ns) == 0, "add_run_mntns A");
	CHECK(bpf_capture_add_run_mntns(c, RUN_NS, a.mnt_ns) == 0, "add_run_mntns A again");
	CHECK(bpf_capture_add_run_mntns(c, RUN_NS_CG, a.mnt_ns) == -EEXIST,
	      "add_run_mntns A for another run");
	CHECK(bpf_capture_add_run_mntns(c, RUN_NS, wc.mnt_ns) == 0, "add_run_mntns C");

	snprintf(cmd, sizeof(cmd), "110 %s\n", path[0]); /* getppid */
	ret = worker_do(c, &a, cmd, &seen);
	ret |= worker_do(c, &a, "x\n", &seen);
	snprintf(cmd, sizeof(cmd), "111 %s\n", path[1]); /* getpgrp */
	ret |= worker_do(c, &b, cmd, &seen);
	snprintf(cmd, sizeof(cmd), "24 %s\n", path[2]); /* sched_yield */
	ret |= worker_do(c, &wc, cmd, &seen);
	open_ro(path[3]);
	while (bpf_capture_poll(c, 50, on_behavior_run, &seen) > 0)
		;
	CHECK(ret == 0, "worker commands");

	snprintf(line, sizeof(line), "run=%d file %.4000s r", RUN_NS, path[0]);
	CHECK(seen_count(&seen, line) == 1, "\"%s\" seen %zu times", line, seen_count(&seen, line));
	snprintf(line, sizeof(line), "run=%d exec /usr/bin/true", RUN_NS);
	CHECK(seen_count(&seen, line) == 1, "\"%s\" seen %zu times", line, seen_count(&seen, line));
	CHECK(!seen_has(&seen, path[1]), "B (unmapped namespace) seen");
	snprintf(line, sizeof(line), "run=%d file %.4000s r", RUN_NS_CG, path[2]);
	CHECK(seen_count(&seen, line) == 1, "C by its cgroup: \"%s\" seen %zu times", line,
	      seen_count(&seen, line));
	snprintf(line, sizeof(line), "run=%d file %.4000s r", RUN_NS, path[2]);
	CHECK(seen_count(&seen, line) == 0, "C attributed by namespace over cgroup");
	CHECK(!seen_has(&seen, path[3]), "the test itself seen");
	CHECK(bpf_capture_syscalls(c, RUN_NS, AUDIT_ARCH_X86_64, syscall_bit, bits) == 0 &&
		  bits[110] && !bits[111] && !bits[24],
	      "mntns run bitmap: getppid %d (A), getpgrp %d (B), sched_yield %d (C)", bits[110],
	      bits[111], bits[24]);
	CHECK(bpf_capture_syscalls(c, RUN_NS_CG, AUDIT_ARCH_X86_64, syscall_bit, bits_cg) == 0 &&
		  bits_cg[24] && !bits_cg[110],
	      "cgroup run bitmap: sched_yield %d (C), getppid %d (A)", bits_cg[24], bits_cg[110]);

	/* remove_run forgets the namespaces; the other run goes on */
	CHECK(bpf_capture_remove_run(c, RUN_NS) == 0, "remove_run mntns");
	snprintf(cmd, sizeof(cmd), "39 %s\n", path[4]);
	ret = worker_do(c, &a, cmd, &seen);
	snprintf(cmd, sizeof(cmd), "39 %s\n", path[5]);
	ret |= worker_do(c, &wc, cmd, &seen);
	CHECK(ret == 0, "worker commands after remove_run");
	CHECK(!seen_has(&seen, path[4]), "A seen after remove_run");
	snprintf(line, sizeof(line), "run=%d file %.4000s r", RUN_NS_CG, path[5]);
	CHECK(seen_count(&seen, line) == 1, "\"%s\" seen %zu times", line, seen_count(&seen, line));
	CHECK(bpf_capture_add_run_mntns(c, RUN_NS_CG, a.mnt_ns) == 0,
	      "add_run_mntns A for another run once the first is gone");
	CHECK(bpf_capture_remove_run(c, RUN_NS_CG) == 0, "remove_run mntns-cg");

done:
	worker_stop(&a);
	worker_stop(&b);
	worker_stop(&wc);
	rmdir(cg);
	for (int i = 0; i < 6; i++)
		if (path[i][0])
			unlink(path[i]);
	if (pinned)
		sched_setaffinity(0, sizeof(old_cpus), &old_cpus);
	seen_free(&seen);
}

static int make_dir(char *tmpl, char *out, size_t outlen)
{
	char p[PATH_MAX];

	if (!mkdtemp(tmpl) || !realpath(tmpl, out))
		return -1;
	snprintf(p, outlen, "%s/dedup.txt", out);
	if (write_file(p, "x"))
		return -1;
	snprintf(p, sizeof(p), "%s/inlater.txt", out);
	if (write_file(p, "x"))
		return -1;
	snprintf(p, sizeof(p), "%s/inearlier.txt", out);
	if (write_file(p, "x"))
		return -1;
	snprintf(p, sizeof(p), "%s/hl_a.txt", out);
	if (write_file(p, "x"))
		return -1;
	for (int i = 0; i < 4; i++) {
		static const char *const maps[] = {"mapx.bin", "mapw.bin", "mapy1.bin",
						   "mapy2.bin"};

		snprintf(p, sizeof(p), "%s/%s", out, maps[i]);
		if (write_file(p, "x"))
			return -1;
	}
	snprintf(p, sizeof(p), "%s/ovl", out);
	if (mkdir(p, 0755))
		return -1;
	snprintf(p, sizeof(p), "%s/lower2", out);
	if (mkdir(p, 0755))
		return -1;
	snprintf(p, sizeof(p), "%s/olddir", out);
	if (mkdir(p, 0755))
		return -1;
	snprintf(p, sizeof(p), "%s/olddir/moved.txt", out);
	return write_file(p, "x");
}

static void rm_dir(const char *dir)
{
	if (!dir[0])
		return;
	const char *names[] = {
	    "dedup.txt",   "inlater.txt", "inearlier.txt", "viadot.txt",       "created.txt",
	    "renamed.txt", "hl_a.txt",	  "hl_b.txt",	   "olddir/moved.txt", "newdir/moved.txt",
	    "mapx.bin",	   "mapw.bin",	  "mapy1.bin",	   "mapy2.bin",	       "ovl",
	    "lower2",	   "sub",	  "olddir",	   "newdir",
	};
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (unlink(p))
			rmdir(p);
	}
	rmdir(dir);
}

int main(void)
{
	char err[512], root[2048], cg[2400], sub[2600], line[9000];
	char t_in[] = "/tmp/bpfcap-in-XXXXXX", t_out[] = "/tmp/bpfcap-out-XXXXXX";
	char t_again[] = "/tmp/bpfcap-again-XXXXXX";
	char in[PATH_MAX] = "", out[PATH_MAX] = "", again[PATH_MAX] = "";
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct bpf_capture_stats before, after;
	struct seen seen_in = {0}, seen_out = {0};
	unsigned char bits[1024] = {0};
	struct bpf_capture *c = NULL;
	struct stat st;
	int ret, lsock, port;
	struct script base = {.acc4 = -1, .acc6 = -1};
	const char *T = in;

	setvbuf(stdout, NULL, _IONBF, 0);
	ret = bpf_capture_open(&c, err, sizeof(err));
	CHECK(ret == 0, "bpf_capture_open: %s", err);
	if (ret)
		goto done;
	if (cgroup2_root(root, sizeof(root))) {
		CHECK(0, "no cgroup2 mount in /proc/self/mountinfo");
		goto done;
	}
	snprintf(cg, sizeof(cg), "%s/armorsmith-bpf-test-%d", root, (int)getpid());
	snprintf(sub, sizeof(sub), "%s/earlier", cg);
	if (mkdir(cg, 0755) || mkdir(sub, 0755) || stat(cg, &st)) {
		CHECK(0, "creating cgroup %s: %s", cg, strerror(errno));
		goto done;
	}
	if (make_dir(t_in, in, sizeof(in)) || make_dir(t_out, out, sizeof(out)) ||
	    make_dir(t_again, again, sizeof(again))) {
		CHECK(0, "creating temp dirs: %s", strerror(errno));
		goto done;
	}
	lsock = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) || listen(lsock, 16) ||
	    getsockname(lsock, (struct sockaddr *)&sa, &salen)) {
		CHECK(0, "listener: %s", strerror(errno));
		goto done;
	}
	port = ntohs(sa.sin_port);
	base.port = port;
	base.acc4 = listener(AF_INET, &base.acc4_port);
	base.acc6 = listener(AF_INET6, &base.acc6_port);
	if (base.acc4 < 0 || base.acc6 < 0) {
		CHECK(0, "accept listeners: %s", strerror(errno));
		goto done;
	}

	CHECK(bpf_capture_add_run(c, RUN_ID, st.st_ino) == 0, "add_run");
	snprintf(sub, sizeof(sub), "%s/later", cg);
	CHECK(mkdir(sub, 0755) == 0, "mkdir %s: %s", sub, strerror(errno));

	/* Outside the cgroup: nothing at all may come back. */
	{
		struct script s = base;

		s.dir = out;
		s.mounts = true;

		ret = run_script(c, &s, &seen_out);
		CHECK(ret == 0, "outside script exited %d", ret);
		CHECK(seen_out.n == 0, "outside the cgroup: %zu behaviors, first: %s", seen_out.n,
		      seen_out.n ? seen_out.lines[0] : "");
	}

	bpf_capture_stats(c, &before);
	{
		struct script s = base;

		s.dir = in;
		s.cg = cg;
		s.mounts = true;

		ret = run_script(c, &s, &seen_in);
		CHECK(ret == 0, "inside script exited %d", ret);
	}
	bpf_capture_stats(c, &after);
	printf("inside: %zu behaviors; events %llu, dedup hits %llu, drops %llu\n", seen_in.n,
	       (unsigned long long)(after.events - before.events),
	       (unsigned long long)(after.dedup_hits - before.dedup_hits),
	       (unsigned long long)(after.ringbuf_drops - before.ringbuf_drops));

	const char *expect[] = {
	    "exec /usr/bin/id",
	    "file %s/created.txt w",
	    "file %s/created.txt a",
	    "file %s/created.txt r",
	    "file %s/created.txt rw",
	    "file %s/renamed.txt w from=%s/created.txt",
	    "file %s/sub/ w",
	    "file %s/viadot.txt w",
	    "file %s/renamed.txt w",
	    "file %s/inlater.txt r",
	    "file %s/inearlier.txt r",
	    "network socket inet stream tcp",
	    "network connect inet stream tcp 127.0.0.1:%d",
	    "network socket inet dgram udp",
	    "network bind inet dgram udp 127.0.0.1:0",
	    "signal usr1 peer=armtest",
	    "capability setuid",
	    "capability sys_admin",
	    "ptrace tracedby peer=",
	    "mount mount / source= fstype= flags=rw,rprivate",
	    "mount mount %s/sub source=tmpfs fstype=tmpfs flags=rw,nosuid",
	    "mount umount %s/sub source= fstype= flags=",
	    "file %s/olddir/moved.txt r",
	    "file %s/newdir/moved.txt r",
	    "file %s/hl_a.txt r",
	    "file %s/hl_b.txt r",
	    "file %s/sub/moved.txt r",
	    "file %s/mapx.bin r",
	    "file %s/mapx.bin m",
	    "file %s/mapy1.bin m",
	    "file %s/mapy2.bin m",
	    "file %s/ovl/moved.txt r",
	    "file %s/ovl/moved.txt m",
	    "network socket inet6 stream tcp",
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (strstr(expect[i], "127.0.0.1:%d"))
			snprintf(line, sizeof(line), expect[i], port);
		else
			snprintf(line, sizeof(line), expect[i], T, T);
		CHECK(seen_count(&seen_in, line) == 1, "expected once: \"%s\" (seen %zu times)",
		      line, seen_count(&seen_in, line));
	}
	/* accept: the peer's address and the local port, once for two */
	{
		const struct {
			const char *fmt;
			int port;
		} nets[] = {
		    {"network connect inet stream tcp 127.0.0.1:%d", base.acc4_port},
		    {"network accept inet stream tcp 127.0.0.1:%d", base.acc4_port},
		    {"network connect inet6 stream tcp ::1:%d", base.acc6_port},
		    {"network accept inet6 stream tcp ::1:%d", base.acc6_port},
		};

		for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
			snprintf(line, sizeof(line), nets[i].fmt, nets[i].port);
			CHECK(seen_count(&seen_in, line) == 1,
			      "expected once: \"%s\" (seen %zu times)", line,
			      seen_count(&seen_in, line));
		}
	}
	/* m only where PROT_EXEC was added to a file mapping, and the
	 * overlay's file by its overlay path, not the real one */
	snprintf(line, sizeof(line), "file %s/mapw.bin m", T);
	CHECK(seen_count(&seen_in, line) == 0, "mprotect without PROT_EXEC reported: %s", line);
	snprintf(line, sizeof(line), "file %s/newdir/moved.txt m", T);
	CHECK(seen_count(&seen_in, line) == 0, "overlay's real file reported: %s", line);
	CHECK(seen_suffix(&seen_in, "file /", "/libc.so.6 m"), "expected libc mapped executable");
	for (size_t i = 0; i < seen_in.n; i++)
		CHECK(strstr(seen_in.lines[i], out) == NULL, "outside dir seen: %s",
		      seen_in.lines[i]);

	/* dedup */
	snprintf(line, sizeof(line), "file %s/dedup.txt r", T);
	CHECK(seen_count(&seen_in, line) == 1, "dedup.txt reported %zu times",
	      seen_count(&seen_in, line));
	CHECK(after.dedup_hits - before.dedup_hits >= DEDUP_OPENS - 1, "dedup hits %llu < %d",
	      (unsigned long long)(after.dedup_hits - before.dedup_hits), DEDUP_OPENS - 1);
	CHECK(after.ringbuf_drops == before.ringbuf_drops, "ring buffer drops");
	{
		const char *twice = NULL;

		for (size_t i = 0; i < seen_in.n; i++)
			for (size_t j = i + 1; j < seen_in.n; j++)
				if (!strcmp(seen_in.lines[i], seen_in.lines[j]))
					twice = seen_in.lines[i];
		CHECK(twice == NULL, "reported twice: %s", twice);
	}

	/* syscall bitmap */
	CHECK(bpf_capture_syscalls(c, RUN_ID, AUDIT_ARCH_X86_64, syscall_bit, bits) == 0,
	      "syscalls");
	CHECK(bits[257] && bits[59] && bits[42] && bits[49] && bits[272] && bits[165],
	      "syscall bitmap lacks openat/execve/connect/bind/unshare/mount");
	CHECK(bits[15] && bits[60] && bits[231],
	      "syscall bitmap lacks rt_sigreturn %d exit %d exit_group %d", bits[15], bits[60],
	      bits[231]);
	memset(bits, 0, sizeof(bits));
	CHECK(bpf_capture_syscalls(c, RUN_ID, AUDIT_ARCH_I386, syscall_bit, bits) == 0,
	      "compat syscalls");
	CHECK(memchr(bits, 1, sizeof(bits)) == NULL, "no i386 syscalls were made");

	/* after remove_run the cgroup is no longer captured */
	CHECK(bpf_capture_remove_run(c, RUN_ID) == 0, "remove_run");
	seen_free(&seen_in);
	{
		struct script s = base;

		s.dir = again;
		s.cg = cg;

		ret = run_script(c, &s, &seen_in);
		CHECK(ret == 0, "script after remove_run exited %d", ret);
		CHECK(seen_in.n == 0, "after remove_run: %zu behaviors", seen_in.n);
	}
	CHECK(bpf_capture_syscalls(c, RUN_ID, AUDIT_ARCH_X86_64, syscall_bit, bits) == -ENOENT,
	      "bitmap of a removed run");
	close(lsock);

	/* with no run left the programs were detached: a new run attaches them again */
	test_pod(c, root, in);
	test_mntns(c, root, in);
	test_poll_unwoken(c, root, in);

done:
	if (base.acc4 >= 0)
		close(base.acc4);
	if (base.acc6 >= 0)
		close(base.acc6);
	bpf_capture_close(c);
	snprintf(sub, sizeof(sub), "%s/later", cg);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/earlier", cg);
	rmdir(sub);
	rmdir(cg);
	rm_dir(in);
	rm_dir(out);
	rm_dir(again);
	seen_free(&seen_in);
	seen_free(&seen_out);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
