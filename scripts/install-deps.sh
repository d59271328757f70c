#!/usr/bin/env bash
# Installs every Debian package armorsmith's build, local run and tests need,
# plus the Python test packages and helm. Idempotent: a second run installs nothing.
# --build-only: only what scripts/build.sh needs (the Dockerfile's build stage).
set -euo pipefail
BUILD_ONLY=0
[[ ${1:-} == --build-only ]] && BUILD_ONLY=1

APT_PACKAGES=(
  build-essential cmake pkg-config clang-format
  librdkafka-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libseccomp-dev libyaml-dev libjansson-dev libpq-dev libcurl4-openssl-dev
  libmicrohttpd-dev libgnutls28-dev
  postgresql-15 postgresql-client-15 auditd strace apparmor
  maven default-jre-headless curl ca-certificates procps openssl
  python3 python3-pip
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libclang-rt-14-dev
)

# Needed only by the local services, the tests or formatting, never by the build.
TEST_ONLY_PACKAGES=" clang-format postgresql-15 postgresql-client-15 auditd strace apparmor maven default-jre-headless python3 python3-pip libclang-rt-14-dev "

missing=()
for p in "${APT_PACKAGES[@]}"; do
  ((BUILD_ONLY)) && [[ $TEST_ONLY_PACKAGES == *" $p "* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

((BUILD_ONLY)) && exit 0

# Python packages used only by the integration tests. pip is quick when
# everything is already satisfied, and this also corrects wrong versions.
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  -r "$(dirname "${BASH_SOURCE[0]}")/../integration-tests/requirements.txt"

# helm (from the Go module proxy) for the chart tests in integration-tests/test_helm.py
bash "$(dirname "${BASH_SOURCE[0]}")/install-helm.sh" >/dev/null
