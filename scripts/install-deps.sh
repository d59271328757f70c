#!/usr/bin/env bash
# Installs every Debian package armorsmith's build, local run and tests need,
# plus the Python test packages. Idempotent: a second run installs nothing.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake pkg-config clang-format
  librdkafka-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libseccomp-dev libyaml-dev libjansson-dev libpq-dev libcurl4-openssl-dev
  postgresql-15 postgresql-client-15 auditd strace apparmor
  maven default-jre-headless curl ca-certificates procps openssl
  python3 python3-pip
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libclang-rt-14-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages used only by the integration tests. pip is quick when
# everything is already satisfied, and this also corrects wrong versions.
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  -r "$(dirname "${BASH_SOURCE[0]}")/../integration-tests/requirements.txt"
