#!/usr/bin/env bash
# BPF capture overhead on a realistic workload: a full rebuild (make -B -j1)
# of a generated C project of FILES units that include the usual libc and
# POSIX headers, timed interleaved in every round under none, run (the build
# is the captured run) and outside (a run exists, the build is not in it);
# see bpf_bench.c. Each measurement loads the capture afresh, so the run
# starts with empty dedup tables, as a modeling run does. Then the same
# build in BLOCKS blocks of bpf-alternate (alternate.c: one process switching
# the capture between builds, with floor and a second none as a control).
# Usage: bench/bpf/build.sh [BUILD_DIR] [ROUNDS] [FILES] [BLOCKS]  (root)
set -euo pipefail

build=${1:-/tmp/build-bpf}
rounds=${2:-7}
files=${3:-16}
blocks=${4:-$rounds}
here=$(cd "$(dirname "$0")" && pwd)
bench=$build/bin/bpf-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib.sh
. "$here/lib.sh"

[[ -x $bench ]] || { echo "build: $bench not built" >&2; exit 1; }

gen_project() {
	local d=$1 n=$2 i
	mkdir -p "$d"
	{
		for h in assert ctype errno fcntl inttypes limits math pthread signal stdarg \
			stdbool stddef stdint stdio stdlib string time unistd arpa/inet \
			netinet/in sys/socket sys/stat sys/types sys/wait; do
			echo "#include <$h.h>"
		done
		echo 'struct entry { char key[32]; uint64_t value; struct entry *next; };'
		echo 'uint64_t hash_str(const char *s);'
	} >"$d/common.h"
	for ((i = 0; i < n; i++)); do
		sed "s/@N@/$i/g" >"$d/unit$i.c" <<'C'
#include "common.h"
static struct entry *table_@N@[257];
static int cmp_@N@(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}
uint64_t put_@N@(const char *key, uint64_t v)
{
	uint64_t h = hash_str(key) % 257;
	struct entry *e;

	for (e = table_@N@[h]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e->value += v;
	e = calloc(1, sizeof(*e));
	if (!e)
		return 0;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->value = v;
	e->next = table_@N@[h];
	table_@N@[h] = e;
	return v;
}
double stats_@N@(const double *xs, size_t n)
{
	double m = 0, s = 0;

	for (size_t k = 0; k < n; k++)
		m += xs[k];
	m /= n ? (double)n : 1.0;
	for (size_t k = 0; k < n; k++)
		s += (xs[k] - m) * (xs[k] - m);
	return sqrt(s / (n ? (double)n : 1.0)) + @N@;
}
int sort_@N@(struct entry *es, size_t n)
{
	qsort(es, n, sizeof(*es), cmp_@N@);
	return (int)n;
}
int parse_@N@(const char *line, struct sockaddr_in *sa)
{
	char host[64];
	unsigned port;

	if (sscanf(line, "%63[^:]:%u", host, &port) != 2 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}
C
	done
	cat >"$d/main.c" <<'C'
#include "common.h"
uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}
uint64_t put_0(const char *key, uint64_t v);
int main(void)
{
	return put_0("x", 1) != 1;
}
C
	{
		printf 'OBJS = main.o'
		for ((i = 0; i < n; i++)); do printf ' unit%d.o' "$i"; done
		printf '\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS) -lm -lpthread\n'
		printf '%%.o: %%.c common.h\n\t$(CC) -O2 -Wall -c -o $@ $<\n'
	} >"$d/Makefile"
}

gen_project "$work/proj" "$files"
make -s -B -C "$work/proj" -j1 # warm the page cache

bench_rounds "$bench" "$rounds" "$work/tsv" none run outside -- \
	make -s -B -C "$work/proj" -j1
echo "make -B -j1 of $files units + main, $rounds interleaved rounds (seconds):"
bench_summary "$work/tsv" 1 s
bench_prog_stats "$bench" run -- make -s -B -C "$work/proj" -j1

alternate=$build/bin/bpf-alternate
if [[ -x $alternate && $blocks -gt 0 ]]; then
	clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I"$build/bpf" \
		-c "$here/floor.bpf.c" -o "$work/floor.bpf.o"
	"$alternate" "$work/floor.bpf.o" "$blocks" -- make -s -B -C "$work/proj" -j1
else
	echo "build: no alternating pass ($alternate not built or BLOCKS 0)"
fi
