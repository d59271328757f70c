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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static void on_behavior(const struct bpf_behavior *b, void *ctx)
{
	static const char *const kinds[] = {"exec",   "file",	"network", "capability",
					    "ptrace", "signal", "mount"};
	char line[9000];
	int n = snprintf(line, sizeof(line), "%s", kinds[b->kind]);

	switch (b->kind) {
	case BPF_B_EXEC:
		snprintf(line + n, sizeof(line) - n, " %s", b->path);
		break;
	case BPF_B_FILE:
		n += snprintf(line + n, sizeof(line) - n, " %s %s", b->path, b->perms);
		if (b->old_path[0])
			snprintf(line + n, sizeof(line) - n, " from=%s", b->old_path);
		break;
	case BPF_B_NETWORK:
		n += snprintf(line + n, sizeof(line) - n, " %s %s %s %s", b->operation, b->family,
			      b->sock_type, b->protocol);
		if (b->address[0])
			snprintf(line + n, sizeof(line) - n, " %s:%u", b->address, b->port);
		break;
	case BPF_B_CAPABILITY:
		snprintf(line + n, sizeof(line) - n, " %s", b->capability);
		break;
	case BPF_B_PTRACE:
		snprintf(line + n, sizeof(line) - n, " %s peer=%s", b->ptrace_perms, b->peer);
		break;
	case BPF_B_SIGNAL:
		snprintf(line + n, sizeof(line) - n, " %s peer=%s", b->signal, b->peer);
		break;
	case BPF_B_MOUNT:
		snprintf(line + n, sizeof(line) - n, " %s %s source=%s fstype=%s flags=%s",
			 b->mount_op, b->path, b->old_path, b->fstype, b->flags);
		break;
	}
	if (getenv("BPF_CAPTURE_TEST_VERBOSE"))
		fprintf(stderr, "  %s\n", line);
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

	/* signal, capability, ptrace */
	signal(SIGUSR1, SIG_IGN);
	kill(getpid(), SIGUSR1);
	if (setuid(0))
		_exit(72);
	in_child(traceme, s);

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
	}
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
	if (cg) {
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
	    "sub",	   "olddir",	  "newdir"};
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

	CHECK(bpf_capture_add_run(c, RUN_ID, st.st_ino) == 0, "add_run");
	snprintf(sub, sizeof(sub), "%s/later", cg);
	CHECK(mkdir(sub, 0755) == 0, "mkdir %s: %s", sub, strerror(errno));

	/* Outside the cgroup: nothing at all may come back. */
	{
		struct script s = {.dir = out, .cg = NULL, .port = port, .mounts = true};

		ret = run_script(c, &s, &seen_out);
		CHECK(ret == 0, "outside script exited %d", ret);
		CHECK(seen_out.n == 0, "outside the cgroup: %zu behaviors, first: %s", seen_out.n,
		      seen_out.n ? seen_out.lines[0] : "");
	}

	bpf_capture_stats(c, &before);
	{
		struct script s = {.dir = in, .cg = cg, .port = port, .mounts = true};

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
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (strstr(expect[i], "127.0.0.1:%d"))
			snprintf(line, sizeof(line), expect[i], port);
		else
			snprintf(line, sizeof(line), expect[i], T, T);
		CHECK(seen_count(&seen_in, line) == 1, "expected once: \"%s\" (seen %zu times)",
		      line, seen_count(&seen_in, line));
	}
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
	memset(bits, 0, sizeof(bits));
	CHECK(bpf_capture_syscalls(c, RUN_ID, AUDIT_ARCH_I386, syscall_bit, bits) == 0,
	      "compat syscalls");
	CHECK(memchr(bits, 1, sizeof(bits)) == NULL, "no i386 syscalls were made");

	/* after remove_run the cgroup is no longer captured */
	CHECK(bpf_capture_remove_run(c, RUN_ID) == 0, "remove_run");
	seen_free(&seen_in);
	{
		struct script s = {.dir = again, .cg = cg, .port = port, .mounts = false};

		ret = run_script(c, &s, &seen_in);
		CHECK(ret == 0, "script after remove_run exited %d", ret);
		CHECK(seen_in.n == 0, "after remove_run: %zu behaviors", seen_in.n);
	}
	CHECK(bpf_capture_syscalls(c, RUN_ID, AUDIT_ARCH_X86_64, syscall_bit, bits) == -ENOENT,
	      "bitmap of a removed run");
	close(lsock);

	/* with no run left the programs were detached: a new run attaches them again */
	test_pod(c, root, in);

done:
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
