#!/usr/bin/env bash
# The main job end to end: installs what is missing, builds, starts Kafka,
# PostgreSQL and auditd on loopback, models a real command through the whole
# pipeline and prints the profiles it forged.
#
#   scripts/demo.sh                      models: sh -c 'cat /etc/hostname; id; ls /'
#   scripts/demo.sh -- COMMAND [ARGS]    models COMMAND instead
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: must run as root (auditd, cgroups and seccomp audit need it)" >&2
  exit 1
fi
cmd=(sh -c 'cat /etc/hostname; id; ls /')
if [[ ${1:-} == -- ]]; then
  shift
  cmd=("$@")
fi

bash scripts/install-deps.sh
bash scripts/build.sh
deploy/local/services.sh up
eval "$(deploy/local/services.sh env)"

out=$ROOT/out
build/bin/armorsmith model --name demo --out "$out" -- "${cmd[@]}"

for f in demo.apparmor demo.seccomp.json demo.armorprofilemodel.yaml; do
  echo
  echo "==> $out/$f <=="
  cat "$out/$f"
  echo
done
echo
echo "services are still running; stop them with: deploy/local/services.sh down"
