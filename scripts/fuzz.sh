#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DARMORSMITH_FUZZ=ON, ASan + UBSan)
# and runs each for SECONDS, one after the other, starting from the seed
# inputs under producers/probe/testdata/ (a target's own seeds in
# testdata/TARGET/) and, when present, the libapparmor corpus.
# usage: scripts/fuzz.sh SECONDS [BUILD_DIR [TARGET...]]  (default: every target)
# Needs the Debian packages clang and libclang-rt-14-dev (libFuzzer and the
# sanitizer runtimes). Exits non-zero when a target crashes; the crashing
# input is left in BUILD_DIR/fuzz-artifacts/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER_TARGET=${1:?usage: scripts/fuzz.sh SECONDS [BUILD_DIR [TARGET...]]}
BUILD=${2:-$ROOT/build-fuzz}
TARGETS=(fuzz_audit_apparmor fuzz_apparmor_profile)
if (($# > 2)); then
  TARGETS=("${@:3}")
fi

CC=clang cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARMORSMITH_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target "${TARGETS[@]}" -- --no-print-directory >/dev/null

status=0
for t in "${TARGETS[@]}"; do
  corpus=$BUILD/fuzz-corpus/$t
  artifacts=$BUILD/fuzz-artifacts/$t/
  mkdir -p "$corpus" "$artifacts"
  # Seeds: real records, one per file.
  for f in "$ROOT"/../shared/corpus/apparmor-audit/*.in; do
    [[ -e $f ]] && cp -n "$f" "$corpus/" 2>/dev/null || true
  done
  n=0
  while IFS= read -r line; do
    [[ $line == \#* || -z $line ]] && continue
    printf '%s\n' "$line" >"$corpus/seccomp-$n"
    n=$((n + 1))
  done <"$ROOT/producers/probe/testdata/seccomp.log"
  if [[ -d $ROOT/producers/probe/testdata/$t ]]; then
    cp -n "$ROOT/producers/probe/testdata/$t"/* "$corpus/" 2>/dev/null || true
  fi
  echo "== $t: ${SECONDS_PER_TARGET}s =="
  if ! "$BUILD/bin/$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" \
      2>"$BUILD/$t.log"; then
    status=1
    echo "fuzz.sh: $t failed; see $BUILD/$t.log and $artifacts" >&2
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)|^==[0-9]+==ERROR|^SUMMARY' "$BUILD/$t.log" || true
done
exit "$status"
