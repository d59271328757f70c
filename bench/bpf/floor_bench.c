/* floor-bench OBJECT -- CMD [ARGS...]: attaches every program of a BPF
 * object (floor.bpf.o), runs CMD and reports its times on stderr in
 * bpf-bench's format (mode=floor wall_s=... cpu_s=...). Built and run by
 * overhead.sh; needs root. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj = NULL;
	struct bpf_link *links[8] = {0};
	struct bpf_program *prog;
	int nlinks = 0;
	struct rusage ru;
	int status, ret = 1;
	double t0, wall;
	pid_t child;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: floor-bench OBJECT -- CMD [ARGS...]\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "floor-bench: loading %s: %s\n", argv[1], strerror(errno));
		goto cleanup;
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (nlinks == 8 || !(links[nlinks++] = bpf_program__attach(prog))) {
			fprintf(stderr, "floor-bench: attaching %s: %s\n", bpf_program__name(prog),
				strerror(errno));
			goto cleanup;
		}
	}
	t0 = now_s();
	child = fork();
	if (child < 0)
		goto cleanup;
	if (child == 0) {
		execvp(argv[3], argv + 3);
		_exit(127);
	}
	if (wait4(child, &status, 0, &ru) != child)
		goto cleanup;
	wall = now_s() - t0;
	fprintf(stderr, "bpf-bench mode=floor wall_s=%.4f cpu_s=%.4f\n", wall,
		tv_s(ru.ru_utime) + tv_s(ru.ru_stime));
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 1;

cleanup:
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return ret;
}
