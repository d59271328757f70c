#!/usr/bin/env bash
# BPF capture overhead on a syscall-bound microbenchmark: an open/close loop
# (openloop.c on /etc/hostname), timed under five setups interleaved in
# every round: none; floor (an empty program on the raw syscall tracepoint
# the capture uses: what no program body can save, see floor.bpf.c); run (the
# loop is the captured run); outside (a run exists, the loop is not in it:
# what every other task on the node pays); idle (capture loaded, no run).
# See bpf_bench.c and lib.sh.
# Usage: bench/bpf/overhead.sh [BUILD_DIR] [ITERATIONS] [ROUNDS]  (root)
set -euo pipefail

build=${1:-/tmp/build-bpf}
iters=${2:-1000000}
rounds=${3:-9}
here=$(cd "$(dirname "$0")" && pwd)
bpf_bench=$build/bin/bpf-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib.sh
. "$here/lib.sh"

[[ -x $bpf_bench ]] || { echo "overhead: $bpf_bench not built" >&2; exit 1; }
[[ -f $build/bpf/vmlinux.h ]] || { echo "overhead: $build/bpf/vmlinux.h missing" >&2; exit 1; }
cc -O2 -o "$work/openloop" "$here/openloop.c"
clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I"$build/bpf" \
	-c "$here/floor.bpf.c" -o "$work/floor.bpf.o"
cc -O2 -o "$work/floor-bench" "$here/floor_bench.c" -lbpf

# bpf-bench, or floor-bench for mode floor (lib.sh's functions have a local
# named bench: this one must not read it)
overhead_bench() {
	if [[ $1 == floor ]]; then
		shift
		"$work/floor-bench" "$work/floor.bpf.o" "$@"
	else
		"$bpf_bench" "$@"
	fi
}

bench_rounds overhead_bench "$rounds" "$work/tsv" none floor run outside idle -- \
	"$work/openloop" "$iters"
echo "open/close loop, $iters iterations, $rounds interleaved rounds (ns per open+close):"
bench_summary "$work/tsv" "$(awk -v n="$iters" 'BEGIN { print 1e9 / n }')" ns
bench_prog_stats "$bpf_bench" run -- "$work/openloop" "$iters"
