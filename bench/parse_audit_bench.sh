#!/usr/bin/env bash
# Throughput of `armorsmith parse-audit --json` over a large recorded log
# (AppArmor, seccomp and unrelated syslog lines; bench/gen_audit_log.py),
# beside `grep -c audit` over the same file, in one run. The machine may be
# noisy: each command runs RUNS times and the fastest run counts; compare
# the ratio more than the absolute rate. Target: >= 1M records/s.
# usage: bench/parse_audit_bench.sh [LINES] (env ARMORSMITH_BIN, RUNS, BENCH_LOG)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LINES=${1:-2000000}
RUNS=${RUNS:-3}
BIN=${ARMORSMITH_BIN:-$ROOT/build/bin/armorsmith}
LOG=${BENCH_LOG:-${TMPDIR:-/tmp}/armorsmith-parse-audit-bench.$LINES.log}

[[ -x $BIN ]] || { echo "parse_audit_bench: no armorsmith at $BIN (set ARMORSMITH_BIN)" >&2; exit 1; }
if [[ ! -s $LOG ]]; then
  python3 "$ROOT/bench/gen_audit_log.py" "$LOG" "$LINES" >/dev/null
fi

# Fastest wall-clock time of RUNS runs of "$@" with its output to OUT, in
# seconds. (grep's output must not be /dev/null: GNU grep notices that and
# stops at the first match.)
best_of() {
  local out=$1 best="" t0 t1 t
  shift
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    "$@" >"$out" 2>/dev/null || true
    t1=$(date +%s%N)
    t=$((t1 - t0))
    [[ -z $best || $t -lt $best ]] && best=$t
  done
  awk -v ns="$best" 'BEGIN { printf "%.3f", ns / 1e9 }'
}

bytes=$(stat -c %s "$LOG")
lines=$(wc -l <"$LOG")
# Untimed: the record count (also warms the page cache for both commands).
records=$("$BIN" parse-audit --json "$LOG" 2>/dev/null | wc -l)
grep_count=$(grep -c audit "$LOG" || true)

count_file=$(mktemp)
trap 'rm -f "$count_file"' EXIT
parse_s=$(best_of /dev/null "$BIN" parse-audit --json "$LOG")
grep_s=$(best_of "$count_file" grep -c audit "$LOG")

awk -v lines="$lines" -v bytes="$bytes" -v records="$records" -v gc="$grep_count" \
  -v p="$parse_s" -v g="$grep_s" -v runs="$RUNS" -v logfile="$LOG" 'BEGIN {
  printf "input:        %s (%d lines, %.1f MB)\n", logfile, lines, bytes / 1e6
  printf "records:      %d emitted by parse-audit (grep -c audit: %d lines)\n", records, gc
  printf "parse-audit:  %.3f s  %.0f records/s  %.0f lines/s  %.1f MB/s (best of %d)\n",
    p, records / p, lines / p, bytes / 1e6 / p, runs
  printf "grep -c:      %.3f s  %.1f MB/s (best of %d)\n", g, bytes / 1e6 / g, runs
  printf "ratio:        parse-audit takes %.1fx the time of grep -c\n", p / g
  printf "target:       >= 1000000 records/s: %s\n", ((records / p >= 1e6) ? "met" : "NOT met")
}'
