#!/usr/bin/env bash
# BPF capture overhead on the open/close loop, measured by one process that
# switches the capture between slices of its own loop (alternate.c): the
# comparisons are between neighbours tens of milliseconds apart, where
# overhead.sh compares processes started seconds apart. A second `none`
# setup in every block (none2) shows the method's own error.
# Usage: bench/bpf/alternate.sh [BUILD_DIR] [BLOCKS] [ITERATIONS]  (root)
set -euo pipefail

build=${1:-/tmp/build-bpf}
blocks=${2:-60}
iters=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)
alternate=$build/bin/bpf-alternate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[[ -x $alternate ]] || { echo "alternate: $alternate not built" >&2; exit 1; }
[[ -f $build/bpf/vmlinux.h ]] || { echo "alternate: $build/bpf/vmlinux.h missing" >&2; exit 1; }
clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I"$build/bpf" \
	-c "$here/floor.bpf.c" -o "$work/floor.bpf.o"
"$alternate" "$work/floor.bpf.o" "$blocks" "$iters"
