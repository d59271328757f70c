/* bpf-alternate FLOOR_OBJECT BLOCKS ITERATIONS [PATH]
 * bpf-alternate FLOOR_OBJECT BLOCKS -- CMD [ARGS...]
 *
 * The capture's overhead measured by one process that switches it between
 * slices of one workload, so that every comparison is between neighbours
 * (a shared machine drifts by more than the figures between processes
 * started seconds apart). A slice is ITERATIONS open+close of PATH (default
 * /etc/hostname) in this process, or one run of CMD (its stdout discarded).
 *
 * Each block runs one slice in each of five setups, in an order shuffled
 * per block:
 *
 *   none     capture loaded, no run: its programs are detached
 *   none2    the same again: its ratio to none is the method's own error
 *   floor    FLOOR_OBJECT's programs attached (floor.bpf.c: an empty program
 *            on sys_exit), the capture detached
 *   run      this process's cgroup (CMD's too) is the run
 *   outside  a run exists (an empty cgroup), this process is not in it
 *
 * A slice's figure is CPU time, user and system, where the programs run:
 * the thread's per open+close, or CMD's and its waited-for descendants'. A
 * setup's overhead is the median over blocks of its slice divided by the
 * same block's none slice (and, for run and outside, by its floor slice:
 * what the capture's programs cost beyond an empty program). Every run
 * slice starts with empty dedup tables. Prints one line per setup on
 * stdout, then the capture's counters. Needs root and a cgroup2 mount; the
 * process moves itself into a fresh cgroup for the run and back out at the
 * end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf_capture.h"

#define RUN_ID 1
#define SETUPS 5
#define MAX_BLOCKS 10000
#define MAX_LINKS 8

enum setup { SETUP_NONE, SETUP_NONE2, SETUP_FLOOR, SETUP_RUN, SETUP_OUTSIDE };

static const char *const setup_names[SETUPS] = {"none", "none2", "floor", "run", "outside"};

struct alternate {
	struct bpf_capture *cap;
	struct bpf_object *floor;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	char root[2048];
	char self_cg[2400];  /* the run's cgroup, this process inside */
	char other_cg[2400]; /* the empty cgroup of mode outside */
	char home_cg[2400];  /* where this process came from */
	uint64_t self_id, other_id;
	uint64_t behaviors;
};

static int cgroup2_root(char *out, size_t outlen)
{
	static const char *const candidates[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
	char path[2100];

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", candidates[i]);
		if (access(path, F_OK) == 0) {
			snprintf(out, outlen, "%s", candidates[i]);
			return 0;
		}
	}
	return -ENOENT;
}

/* This process's cgroup v2 path below root (the "0::" line). */
static int current_cgroup(const char *root, char *out, size_t outlen)
{
	char line[2048];
	FILE *f = fopen("/proc/self/cgroup", "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			int n;

			line[strcspn(line, "\n")] = '\0';
			n = snprintf(out, outlen, "%s%s", root, line + 3);
			ret = n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
			break;
		}
	fclose(f);
	return ret;
}

static int make_cgroup(const char *path, uint64_t *id)
{
	struct stat st;

	if (mkdir(path, 0755) || stat(path, &st)) {
		fprintf(stderr, "bpf-alternate: creating cgroup %s: %s\n", path, strerror(errno));
		return -errno;
	}
	*id = st.st_ino;
	return 0;
}

static int join_cgroup(const char *cg)
{
	char procs[2500], buf[32];
	int fd, ret = 0;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, strlen(buf)) < 0)
		ret = -errno;
	close(fd);
	if (ret)
		fprintf(stderr, "bpf-alternate: joining %s: %s\n", cg, strerror(-ret));
	return ret;
}

static int floor_load(struct alternate *a, const char *path)
{
	a->floor = bpf_object__open_file(path, NULL);
	if (!a->floor || bpf_object__load(a->floor)) {
		fprintf(stderr, "bpf-alternate: loading %s: %s\n", path, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static int floor_attach(struct alternate *a)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, a->floor)
	{
		if (a->nlinks == MAX_LINKS ||
		    !(a->links[a->nlinks++] = bpf_program__attach(prog))) {
			fprintf(stderr, "bpf-alternate: attaching %s: %s\n",
				bpf_program__name(prog), strerror(errno));
			return -EINVAL;
		}
	}
	return 0;
}

static void floor_detach(struct alternate *a)
{
	for (int i = 0; i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	a->nlinks = 0;
}

static int setup_enter(struct alternate *a, enum setup s)
{
	switch (s) {
	case SETUP_NONE:
	case SETUP_NONE2:
		return 0;
	case SETUP_FLOOR:
		return floor_attach(a);
	case SETUP_RUN:
		return bpf_capture_add_run(a->cap, RUN_ID, a->self_id);
	case SETUP_OUTSIDE:
		return bpf_capture_add_run(a->cap, RUN_ID, a->other_id);
	}
	return -EINVAL;
}

static void count_behavior(const struct bpf_behavior *b, void *ctx)
{
	(void)b;
	((struct alternate *)ctx)->behaviors++;
}

static void setup_leave(struct alternate *a, enum setup s)
{
	if (s == SETUP_FLOOR)
		floor_detach(a);
	if (s == SETUP_RUN || s == SETUP_OUTSIDE) {
		while (bpf_capture_poll(a->cap, 0, count_behavior, a) > 0)
			;
		bpf_capture_remove_run(a->cap, RUN_ID);
	}
}

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU ns per open+close over n iterations, or a negative errno. */
static double slice_loop(const char *path, long n)
{
	double t0 = thread_cpu_ns();

	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);

		if (fd < 0)
			return -errno;
		close(fd);
	}
	return (thread_cpu_ns() - t0) / (double)n;
}

static double tv_ns(struct timeval tv)
{
	return (double)tv.tv_sec * 1e9 + (double)tv.tv_usec * 1e3;
}

/* CPU ns (user + system) of one run of argv and its waited-for
 * descendants, or a negative errno; its stdout goes to /dev/null. */
static double slice_command(char **argv)
{
	struct rusage ru;
	int status;
	pid_t child = fork();

	if (child < 0)
		return -errno;
	if (child == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "bpf-alternate: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (wait4(child, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bpf-alternate: %s failed (status %d)\n", argv[0], status);
		return -ECHILD;
	}
	return tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
}

/* What one slice runs: the open/close loop, or a command when cmd is set. */
struct slice_spec {
	const char *path;
	long iters;
	char **cmd;
};

static double slice_run(const struct slice_spec *spec)
{
	return spec->cmd ? slice_command(spec->cmd) : slice_loop(spec->path, spec->iters);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Fisher-Yates with a fixed-seed LCG: the order varies per block and
 * every run of the benchmark sees the same sequence. */
static void shuffle(int *order, int n, uint64_t *seed)
{
	for (int i = n - 1; i > 0; i--) {
		int j, t;

		*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (int)((*seed >> 33) % (uint64_t)(i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

static void report(double (*ns)[SETUPS], int blocks, double scale, const char *unit)
{
	static double v[MAX_BLOCKS], r[MAX_BLOCKS];

	for (int s = 0; s < SETUPS; s++) {
		double lo = 1e300, hi = 0, med_r = 1;

		for (int b = 0; b < blocks; b++) {
			v[b] = ns[b][s];
			r[b] = ns[b][s] / ns[b][SETUP_NONE];
		}
		if (s != SETUP_NONE) {
			med_r = median(r, blocks);
			/* interquartile range: the spread of the middle half */
			lo = r[blocks / 4];
			hi = r[(3 * blocks) / 4];
		}
		printf("%-8s %9.1f %s", setup_names[s], median(v, blocks) * scale, unit);
		if (s != SETUP_NONE)
			printf("  ratio %.3f (interquartile %.3f-%.3f)", med_r, lo, hi);
		if (s == SETUP_RUN || s == SETUP_OUTSIDE) {
			/* what the capture's programs add to an empty one */
			for (int b = 0; b < blocks; b++)
				r[b] = ns[b][s] / ns[b][SETUP_FLOOR];
			printf("  to floor %.3f", median(r, blocks));
		}
		printf("\n");
	}
}

static int alternate_setup(struct alternate *a, const char *floor_path)
{
	char err[512];
	int ret;

	ret = cgroup2_root(a->root, sizeof(a->root));
	if (ret) {
		fprintf(stderr, "bpf-alternate: no cgroup2 mount\n");
		return ret;
	}
	ret = current_cgroup(a->root, a->home_cg, sizeof(a->home_cg));
	if (ret) {
		fprintf(stderr, "bpf-alternate: no cgroup2 line in /proc/self/cgroup\n");
		return ret;
	}
	ret = floor_load(a, floor_path);
	if (ret)
		return ret;
	ret = bpf_capture_open(&a->cap, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bpf-alternate: %s\n", err);
		return ret;
	}
	snprintf(a->self_cg, sizeof(a->self_cg), "%s/armorsmith-alt-run-%d", a->root,
		 (int)getpid());
	snprintf(a->other_cg, sizeof(a->other_cg), "%s/armorsmith-alt-other-%d", a->root,
		 (int)getpid());
	ret = make_cgroup(a->self_cg, &a->self_id);
	if (!ret)
		ret = make_cgroup(a->other_cg, &a->other_id);
	if (!ret)
		ret = join_cgroup(a->self_cg);
	return ret;
}

static void alternate_teardown(struct alternate *a)
{
	if (a->home_cg[0])
		join_cgroup(a->home_cg);
	if (a->self_cg[0])
		rmdir(a->self_cg);
	if (a->other_cg[0])
		rmdir(a->other_cg);
	floor_detach(a);
	bpf_object__close(a->floor);
	bpf_capture_close(a->cap);
}

static int parse_args(int argc, char **argv, int *blocks, struct slice_spec *spec)
{
	if (argc < 4)
		return -EINVAL;
	*blocks = atoi(argv[2]);
	if (*blocks < 1 || *blocks > MAX_BLOCKS)
		return -EINVAL;
	if (!strcmp(argv[3], "--")) {
		spec->cmd = argv + 4;
		return argc > 4 ? 0 : -EINVAL;
	}
	spec->iters = atol(argv[3]);
	spec->path = argc > 4 ? argv[4] : "/etc/hostname";
	return spec->iters > 0 && argc <= 5 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static double ns[MAX_BLOCKS][SETUPS];
	struct alternate a = {0};
	struct slice_spec spec = {0};
	struct bpf_capture_stats st = {0};
	uint64_t seed = 42;
	int blocks, ret;

	if (parse_args(argc, argv, &blocks, &spec)) {
		fprintf(stderr,
			"usage: bpf-alternate FLOOR_OBJECT BLOCKS(1-%d) ITERATIONS [PATH]\n"
			"       bpf-alternate FLOOR_OBJECT BLOCKS(1-%d) -- CMD [ARGS...]\n",
			MAX_BLOCKS, MAX_BLOCKS);
		return 2;
	}
	ret = alternate_setup(&a, argv[1]);
	if (ret)
		goto cleanup;
	for (int b = 0; b < blocks; b++) {
		int order[SETUPS] = {0, 1, 2, 3, 4};

		shuffle(order, SETUPS, &seed);
		for (int i = 0; i < SETUPS; i++) {
			enum setup s = (enum setup)order[i];

			ret = setup_enter(&a, s);
			if (ret) {
				fprintf(stderr, "bpf-alternate: entering %s: %s\n", setup_names[s],
					strerror(-ret));
				goto cleanup;
			}
			ns[b][s] = slice_run(&spec);
			setup_leave(&a, s);
			if (ns[b][s] < 0) {
				ret = (int)ns[b][s];
				fprintf(stderr, "bpf-alternate: slice of %s: %s\n",
					spec.cmd ? spec.cmd[0] : spec.path, strerror(-ret));
				goto cleanup;
			}
		}
	}
	if (spec.cmd) {
		printf("%s, %d blocks of one run per setup (CPU ms of the command and its "
		       "descendants):\n",
		       spec.cmd[0], blocks);
		report(ns, blocks, 1e-6, "ms");
	} else {
		printf("open/close of %s, %d blocks of %ld iterations per setup (CPU ns per "
		       "open+close):\n",
		       spec.path, blocks, spec.iters);
		report(ns, blocks, 1, "ns");
	}
	bpf_capture_stats(a.cap, &st);
	printf("capture: %llu events, %llu dedup hits (%llu before any path walk), %llu ring "
	       "buffer drops, %llu behaviors received\n",
	       (unsigned long long)st.events, (unsigned long long)st.dedup_hits,
	       (unsigned long long)st.seen_file_hits, (unsigned long long)st.ringbuf_drops,
	       (unsigned long long)a.behaviors);

cleanup:
	alternate_teardown(&a);
	return ret ? 1 : 0;
}
