#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, builds
# (plain and with ASan+UBSan), starts real Kafka, PostgreSQL and auditd on
# loopback, runs the unit tests (ctest, under the sanitizers too) and the
# integration tests (pytest), and stops the services it started.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: must run as root (apt-get, auditd, cgroups and seccomp audit need it)" >&2
  exit 1
fi

bash scripts/install-deps.sh
bash scripts/build.sh --asan

started_services=0
started_kube=0
cleanup() {
  if ((started_kube)); then
    deploy/local/kube-apiserver.sh stop || true
  fi
  if ((started_services)); then
    deploy/local/services.sh down || true
  fi
}
trap cleanup EXIT
# Services that were already running (a developer's) are used and left running;
# `up` still makes sure of topics and settings.
deploy/local/services.sh status >/dev/null 2>&1 || started_services=1
deploy/local/services.sh up
eval "$(deploy/local/services.sh env)"
# A real kube-apiserver (built from the Go module proxy on first use, about
# 7 minutes on 2 cores, then cached) validates the objects we write.
if ! deploy/local/kube-apiserver.sh status >/dev/null 2>&1; then
  deploy/local/kube-apiserver.sh start
  started_kube=1
fi

status=0
echo "== unit tests (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure || status=1
echo "== unit tests =="
ctest --test-dir build --output-on-failure || status=1
# Two targets, 10 s each: the same 20 s of fuzzing as with one target.
echo "== fuzz smoke (libFuzzer, 10 s per target) =="
bash scripts/fuzz.sh 10 || status=1
echo "== integration tests =="
ARMORSMITH_BUILD_DIR=$ROOT/build python3 -m pytest -v integration-tests || status=1
exit "$status"
