#!/usr/bin/env bash
# Configures and builds armorsmith: build/ (release-ish) and, with --asan,
# build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer) as well.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

build() {
  local dir=$1; shift
  cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$ROOT/$dir" -j "$JOBS" -- --no-print-directory
}

build build
if [[ ${1:-} == --asan ]]; then
  build build-asan -DARMORSMITH_SANITIZE=ON
fi
