/* bpf-bench [--prog-stats] MODE -- CMD [ARGS...]: runs CMD once under one of four capture
 * setups and reports, on stderr, one line of key=value figures for the
 * benchmark scripts beside it:
 *
 *   none     no BPF capture loaded
 *   idle     capture loaded, no run (the programs stay detached)
 *   outside  a run exists (an empty cgroup), CMD runs outside it
 *   run      CMD runs in a fresh cgroup v2 that is the run
 *
 * While CMD runs the ring buffer is drained as the probe would (behaviors
 * decoded and counted, not printed). Figures: wall time of CMD and the CPU
 * time of CMD and its waited-for descendants (user + system: the probe's
 * programs run in the system time of the tasks they trace, and CPU time
 * is far less disturbed than wall time by other load on a shared machine),
 * the capture's counters, behaviors/s reaching this process and its VmHWM.
 * --prog-stats also has the kernel time every program run (which slows
 * them) and prints one `bpf-bench prog=NAME runs=N run_ns=T` line each.
 * Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf_capture.h"

#define BENCH_RUN_ID 1

enum bench_mode { MODE_NONE, MODE_IDLE, MODE_OUTSIDE, MODE_RUN };

struct bench {
	enum bench_mode mode;
	bool prog_stats;
	struct bpf_capture *cap;
	char cgroup[2400];
	bool cgroup_made;
	uint64_t behaviors;
};

static int parse_mode(const char *s, enum bench_mode *out)
{
	static const char *const names[] = {"none", "idle", "outside", "run"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*out = (enum bench_mode)i;
			return 0;
		}
	return -EINVAL;
}

static int cgroup2_root(char *out, size_t outlen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
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

static long vmhwm_kib(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void count_behavior(const struct bpf_behavior *b, void *ctx)
{
	(void)b;
	((struct bench *)ctx)->behaviors++;
}

/* Loads the capture and, for outside and run, makes the run's cgroup. */
static int bench_setup(struct bench *b)
{
	char err[512], root[2048];
	struct stat st;
	int ret;

	if (b->mode == MODE_NONE)
		return 0;
	ret = bpf_capture_open(&b->cap, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bpf-bench: %s\n", err);
		return ret;
	}
	if (b->prog_stats) {
		ret = bpf_capture_enable_prog_stats(b->cap);
		if (ret) {
			fprintf(stderr, "bpf-bench: enabling program stats: %s\n", strerror(-ret));
			return ret;
		}
	}
	if (b->mode == MODE_IDLE)
		return 0;
	ret = cgroup2_root(root, sizeof(root));
	if (ret) {
		fprintf(stderr, "bpf-bench: no cgroup2 mount: %s\n", strerror(-ret));
		return ret;
	}
	snprintf(b->cgroup, sizeof(b->cgroup), "%s/armorsmith-bench-%d", root, (int)getpid());
	if (mkdir(b->cgroup, 0755) || stat(b->cgroup, &st)) {
		ret = -errno;
		fprintf(stderr, "bpf-bench: creating cgroup %s: %s\n", b->cgroup, strerror(errno));
		return ret;
	}
	b->cgroup_made = true;
	ret = bpf_capture_add_run(b->cap, BENCH_RUN_ID, st.st_ino);
	if (ret)
		fprintf(stderr, "bpf-bench: adding run for %s: %s\n", b->cgroup, strerror(-ret));
	return ret;
}

static int join_cgroup(const char *cg, pid_t pid)
{
	char procs[2500], buf[32];
	int fd, ret = 0;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, strlen(buf)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Runs argv to its end, draining the capture meanwhile; returns its exit
 * status (as a shell would) or negative errno. */
static int bench_command(struct bench *b, char **argv, double *wall, double *cpu)
{
	int go[2], status = 0, ret;
	struct rusage ru;
	double t0;
	pid_t child;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		ret = -errno;
		close(go[0]);
		close(go[1]);
		return ret;
	}
	if (child == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "bpf-bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	if (b->mode == MODE_RUN) {
		ret = join_cgroup(b->cgroup, child);
		if (ret) {
			fprintf(stderr, "bpf-bench: joining %s: %s\n", b->cgroup, strerror(-ret));
			kill(child, SIGKILL);
		}
	}
	t0 = now_s();
	if (write(go[1], "g", 1) != 1)
		kill(child, SIGKILL);
	close(go[1]);
	for (;;) {
		pid_t w = wait4(child, &status, b->cap ? WNOHANG : 0, &ru);

		if (w == child)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (b->cap)
			bpf_capture_poll(b->cap, 50, count_behavior, b);
	}
	*wall = now_s() - t0;
	*cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
	if (b->cap)
		while (bpf_capture_poll(b->cap, 0, count_behavior, b) > 0)
			;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void print_prog(const char *prog, uint64_t runs, uint64_t run_ns, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "bpf-bench prog=%s runs=%llu run_ns=%llu\n", prog, (unsigned long long)runs,
		(unsigned long long)run_ns);
}

static void bench_report(const struct bench *b, const char *mode, double wall, double cpu)
{
	struct bpf_capture_stats st = {0};

	if (b->cap)
		bpf_capture_stats(b->cap, &st);
	fprintf(stderr,
		"bpf-bench mode=%s wall_s=%.4f cpu_s=%.4f events=%llu dedup_hits=%llu "
		"seen_file_hits=%llu "
		"ringbuf_drops=%llu dropped_paths=%llu behaviors=%llu behaviors_per_s=%.1f "
		"vmhwm_kib=%ld\n",
		mode, wall, cpu, (unsigned long long)st.events, (unsigned long long)st.dedup_hits,
		(unsigned long long)st.seen_file_hits, (unsigned long long)st.ringbuf_drops,
		(unsigned long long)st.dropped_paths, (unsigned long long)b->behaviors,
		wall > 0 ? (double)b->behaviors / wall : 0.0, vmhwm_kib());
	if (b->cap && b->prog_stats)
		bpf_capture_prog_stats(b->cap, print_prog, NULL);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	double wall = 0, cpu = 0;
	int a = 1, ret;

	if (argc > a && !strcmp(argv[a], "--prog-stats")) {
		b.prog_stats = true;
		a++;
	}
	if (argc < a + 3 || strcmp(argv[a + 1], "--") || parse_mode(argv[a], &b.mode)) {
		fprintf(stderr, "usage: bpf-bench [--prog-stats] none|idle|outside|run -- CMD "
				"[ARGS...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ret = bench_setup(&b);
	if (ret)
		goto cleanup;
	ret = bench_command(&b, argv + a + 2, &wall, &cpu);
	if (ret < 0)
		fprintf(stderr, "bpf-bench: running %s: %s\n", argv[a + 2], strerror(-ret));
	else
		bench_report(&b, argv[a], wall, cpu);

cleanup:
	if (b.cap && b.mode >= MODE_OUTSIDE)
		bpf_capture_remove_run(b.cap, BENCH_RUN_ID);
	bpf_capture_close(b.cap);
	if (b.cgroup_made)
		rmdir(b.cgroup);
	return ret < 0 ? 1 : ret;
}
