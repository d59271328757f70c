#!/usr/bin/env bash
# BPF capture overhead on a syscall-bound microbenchmark (open/close loop),
# measured in one run, alternating: plain, inside a captured run (every open
# resolved, hashed and deduplicated in the kernel), and outside any run while
# the capture is attached (the cgroup lookup every task pays).
# Usage: bench/bpf/overhead.sh [BUILD_DIR] [ITERATIONS] [ROUNDS]  (root)
set -euo pipefail

build=${1:-/tmp/build-bpf}
iters=${2:-1000000}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
smoke=$build/bin/bpf-smoke
work=$(mktemp -d)
trap 'kill "${holder:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

[[ -x $smoke ]] || { echo "overhead: $smoke not built" >&2; exit 1; }
cc -O2 -o "$work/openloop" "$here/openloop.c"
loop=$work/openloop

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

plain=() inside=() outside=()
for ((r = 0; r < rounds; r++)); do
	plain+=("$("$loop" "$iters")")
	inside+=("$("$smoke" -- "$loop" "$iters" 2>/dev/null | grep -E '^[0-9.]+$')")
	"$smoke" -- sleep 30 >/dev/null 2>&1 &
	holder=$!
	sleep 1 # let it load and attach
	outside+=("$("$loop" "$iters")")
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	holder=
done

p=$(printf '%s\n' "${plain[@]}" | median)
i=$(printf '%s\n' "${inside[@]}" | median)
o=$(printf '%s\n' "${outside[@]}" | median)
echo "open/close loop, $iters iterations, median of $rounds rounds (ns per open+close):"
echo "  no capture:                 $p"
awk -v p="$p" -v i="$i" -v o="$o" 'BEGIN {
	printf "  capture, task in the run:  %s  (ratio %.3f)\n", i, i / p
	printf "  capture, task outside:     %s  (ratio %.3f)\n", o, o / p
}'
