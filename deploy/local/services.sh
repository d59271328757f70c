#!/usr/bin/env bash
# Start/stop every real service armorsmith's local run and tests use, on loopback.
#
#   services.sh up               auditd, postgres, kafka (in that order); already-running
#                                ones are left as they are
#   services.sh down [--purge]   stop the services that "up" started (kafka, postgres,
#                                auditd); --purge also deletes kafka's and postgres' data
#   services.sh env              print eval-able exports: eval "$(deploy/local/services.sh env)"
#   services.sh status           status of each; exit 0 only when all are running
#
# Environment: ARMORSMITH_STATE_DIR (/tmp/armorsmith-local), ARMORSMITH_KAFKA_PORT (19092),
# ARMORSMITH_PG_PORT (15432), ARMORSMITH_SKIP_AUDITD=1 to leave audit out (e.g. not root),
# plus what kafka.sh, postgres.sh and auditd.sh read.
set -euo pipefail

PROG=services.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

STATE_ROOT=${ARMORSMITH_STATE_DIR:-/tmp/armorsmith-local}
STARTED_FILE=$STATE_ROOT/services.started
KAFKA_PORT=${ARMORSMITH_KAFKA_PORT:-19092}
PG_PORT=${ARMORSMITH_PG_PORT:-15432}

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { msg "$*"; exit 1; }

usage() {
  echo "usage: $PROG {up|down [--purge]|env|status}" >&2
  exit 2
}

services() {
  if [[ ${ARMORSMITH_SKIP_AUDITD:-0} == 1 ]]; then
    echo postgres kafka
  else
    echo auditd postgres kafka
  fi
}

script_for() { echo "$SCRIPT_DIR/$1.sh"; }

was_started() {
  [[ -f $STARTED_FILE ]] && grep -qxF "$1" "$STARTED_FILE"
}

cmd_up() {
  local svc
  mkdir -p "$STATE_ROOT"
  for svc in $(services); do
    if "$(script_for "$svc")" status >/dev/null 2>&1; then
      "$(script_for "$svc")" start # cheap: makes sure topics/db/settings are in place
      continue
    fi
    if ! "$(script_for "$svc")" start; then
      die "$svc failed to start (see the $svc.sh message above); 'services.sh down' stops what did start"
    fi
    was_started "$svc" || echo "$svc" >>"$STARTED_FILE"
  done
  msg "all up; use: eval \"\$($SCRIPT_DIR/services.sh env)\""
}

cmd_down() {
  local purge=() svc rc=0
  case ${1:-} in
    --purge) purge=(--purge) ;;
    "") ;;
    *) usage ;;
  esac
  for svc in kafka postgres auditd; do
    if was_started "$svc"; then
      if [[ $svc == auditd ]]; then
        "$(script_for "$svc")" stop || rc=1
      else
        "$(script_for "$svc")" stop "${purge[@]}" || rc=1
      fi
    elif ((${#purge[@]})) && [[ $svc != auditd ]]; then
      # not ours to stop, but purging data of a stopped service is fine
      if ! "$(script_for "$svc")" status >/dev/null 2>&1; then
        "$(script_for "$svc")" stop --purge || rc=1
      fi
    fi
  done
  if ((rc)); then
    die "some services did not stop cleanly (see messages above); record kept in $STARTED_FILE"
  fi
  rm -f "$STARTED_FILE"
}

cmd_env() {
  printf 'export ARMORSMITH_KAFKA_BROKERS=127.0.0.1:%s\n' "$KAFKA_PORT"
  printf "export ARMORSMITH_PG_DSN='host=127.0.0.1 port=%s dbname=armorsmith user=armorsmith'\n" "$PG_PORT"
}

cmd_status() {
  local svc rc=0
  for svc in $(services); do
    "$(script_for "$svc")" status || rc=1
  done
  return "$rc"
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || usage
  shift
  case $cmd in
    up) [[ $# -eq 0 ]] || usage; cmd_up ;;
    down) cmd_down "$@" ;;
    env) [[ $# -eq 0 ]] || usage; cmd_env ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    *) usage ;;
  esac
}

main "$@"
