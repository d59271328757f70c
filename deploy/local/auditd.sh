#!/usr/bin/env bash
# Make sure Debian's auditd is running and writing the system audit log, for the
# seccomp-audit capture source (type=SECCOMP records from SCMP_ACT_LOG filters).
#
#   auditd.sh start    check kernel audit support, start /sbin/auditd when no audit
#                      daemon is running (no systemd here), set backlog, enable audit
#   auditd.sh stop     stop auditd only when this script started it (marker file);
#                      an auditd that was already there is never touched
#   auditd.sh status   exit 0 when an audit daemon is registered with the kernel, 3 when not
#
# Needs root (CAP_AUDIT_CONTROL). Environment: ARMORSMITH_AUDITD_MARKER (default
# /run/armorsmith-local-auditd), ARMORSMITH_AUDIT_BACKLOG (8192),
# ARMORSMITH_AUDIT_BACKLOG_WAIT (60000).
set -euo pipefail

PROG=auditd.sh

AUDITD=${ARMORSMITH_AUDITD_BIN:-/sbin/auditd}
AUDIT_CONF=/etc/audit/auditd.conf
AUDIT_LOG=/var/log/audit/audit.log
BACKLOG=${ARMORSMITH_AUDIT_BACKLOG:-8192}
BACKLOG_WAIT=${ARMORSMITH_AUDIT_BACKLOG_WAIT:-60000}
# auditd is machine-wide, so the marker is too (not in the per-run state dir)
MARKER=${ARMORSMITH_AUDITD_MARKER:-/run/armorsmith-local-auditd}
# auditd's own start-up messages go to syslog; its stderr (with -f never used) is tiny
START_LOG=${ARMORSMITH_STATE_DIR:-/tmp/armorsmith-local}/auditd-start.log

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { msg "$*"; exit 1; }

usage() {
  echo "usage: $PROG {start|stop|status}" >&2
  exit 2
}

need_tools() {
  command -v auditctl >/dev/null 2>&1 \
    || die "auditctl not found (install the debian package 'auditd')"
  [[ -x $AUDITD ]] || die "$AUDITD not found or not executable (install the debian package 'auditd')"
}

need_root() {
  [[ $EUID -eq 0 ]] || die "must run as root to control kernel audit (auditctl needs CAP_AUDIT_CONTROL)"
}

# auditctl -s, failing with a clear message when the kernel has no audit support
audit_status() {
  local out
  if ! out=$(auditctl -s 2>&1); then
    die "kernel audit is not usable: 'auditctl -s' failed: ${out//$'\n'/ } (kernel without CONFIG_AUDIT, audit=0 on the kernel command line, or no CAP_AUDIT_CONTROL in this container)"
  fi
  printf '%s\n' "$out"
}

status_field() { # field name, status text
  awk -v k="$1" '$1 == k { print $2; exit }' <<<"$2"
}

# pid of the audit daemon the kernel talks to, when it is alive and really auditd
daemon_pid() {
  local st pid comm
  st=$(audit_status)
  pid=$(status_field pid "$st")
  [[ -n $pid && $pid != 0 ]] || return 1
  [[ -r /proc/$pid/comm ]] || return 1
  comm=$(<"/proc/$pid/comm")
  [[ $comm == auditd ]] || return 1
  echo "$pid"
}

marker_pid() {
  [[ -f $MARKER ]] || return 1
  local pid
  pid=$(sed -n 's/^pid=//p' "$MARKER")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  echo "$pid"
}

check_conf() {
  [[ -r $AUDIT_CONF ]] || return 0
  local lf wl
  lf=$(awk -F= '/^[[:space:]]*log_file[[:space:]]*=/ { gsub(/[[:space:]]/, "", $2); print $2 }' "$AUDIT_CONF")
  wl=$(awk -F= '/^[[:space:]]*write_logs[[:space:]]*=/ { gsub(/[[:space:]]/, "", $2); print $2 }' "$AUDIT_CONF")
  if [[ -n $lf && $lf != "$AUDIT_LOG" ]]; then
    msg "warning: $AUDIT_CONF has log_file = $lf, not $AUDIT_LOG"
  fi
  if [[ ${wl,,} == no ]]; then
    msg "warning: $AUDIT_CONF has write_logs = no; auditd will not write $AUDIT_LOG"
  fi
}

configure_kernel() {
  local st enabled out
  if ! out=$(auditctl -b "$BACKLOG" 2>&1); then
    die "could not set the audit backlog to $BACKLOG: $out"
  fi
  local help
  help=$(auditctl -h 2>&1 || true) # exits non-zero after printing its usage
  if [[ $help == *--backlog_wait_time* ]]; then
    if ! out=$(auditctl --backlog_wait_time "$BACKLOG_WAIT" 2>&1); then
      msg "warning: could not set backlog_wait_time $BACKLOG_WAIT: $out"
    fi
  fi
  st=$(audit_status)
  enabled=$(status_field enabled "$st")
  if [[ $enabled == 2 ]]; then
    msg "audit configuration is locked (enabled 2); leaving it as it is"
  elif ! out=$(auditctl -e 1 2>&1); then
    die "could not enable kernel audit (auditctl -e 1): $out"
  fi
}

check_seccomp_logging() {
  local f=/proc/sys/kernel/seccomp/actions_logged
  if [[ -r $f ]] && ! grep -qw log "$f"; then
    msg "warning: $f does not list 'log'; SCMP_ACT_LOG will write no SECCOMP records ($(<"$f"))"
  fi
}

cmd_start() {
  need_root
  need_tools
  local st pid enabled_before i
  st=$(audit_status) # dies with a clear message without kernel audit
  check_conf
  if pid=$(daemon_pid); then
    msg "auditd already running (pid $pid), writing $AUDIT_LOG"
  else
    enabled_before=$(status_field enabled "$st")
    mkdir -p "$(dirname "$START_LOG")" /var/log/audit
    msg "starting $AUDITD (log $AUDIT_LOG)"
    # auditd forks into the background itself; 9>&- keeps no lock fd open in it
    if ! "$AUDITD" </dev/null >"$START_LOG" 2>&1 9>&-; then
      die "$AUDITD failed to start (its output: $START_LOG; also check syslog and $AUDIT_CONF)"
    fi
    for ((i = 0; i < 100; i++)); do
      pid=$(daemon_pid) && break
      sleep 0.1
    done
    [[ -n ${pid:-} ]] || die "auditd did not register with the kernel within 10s (its output: $START_LOG)"
    printf 'pid=%s\nenabled_before=%s\n' "$pid" "${enabled_before:-0}" >"$MARKER"
    msg "auditd started (pid $pid)"
  fi
  configure_kernel
  check_seccomp_logging
  for ((i = 0; i < 50; i++)); do
    [[ -f $AUDIT_LOG ]] && break
    sleep 0.1
  done
  [[ -f $AUDIT_LOG ]] || die "auditd is running but $AUDIT_LOG does not exist (check $AUDIT_CONF: log_file, write_logs)"
}

cmd_stop() {
  need_root
  need_tools
  local mpid enabled_before i
  if ! mpid=$(marker_pid); then
    # not ours (or not running): leave it alone
    return 0
  fi
  if [[ -r /proc/$mpid/comm && $(<"/proc/$mpid/comm") == auditd ]]; then
    msg "stopping auditd (pid $mpid, started by $PROG)"
    kill -TERM "$mpid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -d /proc/$mpid ]] || break
      sleep 0.1
    done
    if [[ -d /proc/$mpid ]]; then
      msg "auditd (pid $mpid) still running after 10s, sending SIGKILL"
      kill -KILL "$mpid" 2>/dev/null || true
    fi
  fi
  # put the kernel's enabled flag back as it was before we started auditd, so audit
  # records do not end up in the kernel log with no daemon to read them
  enabled_before=$(sed -n 's/^enabled_before=//p' "$MARKER")
  if [[ $enabled_before == 0 ]]; then
    auditctl -e 0 >/dev/null 2>&1 || msg "warning: could not disable kernel audit again (auditctl -e 0)"
  fi
  rm -f "$MARKER"
}

cmd_status() {
  need_tools
  local pid st
  if [[ $EUID -ne 0 ]]; then
    echo "auditd: unknown (status needs root)"
    return 1
  fi
  st=$(audit_status)
  if pid=$(daemon_pid); then
    local owner="already there"
    [[ $(marker_pid 2>/dev/null || true) == "$pid" ]] && owner="started by $PROG"
    echo "auditd: running (pid $pid, $owner, enabled $(status_field enabled "$st"), backlog_limit $(status_field backlog_limit "$st"), lost $(status_field lost "$st"), log $AUDIT_LOG)"
    return 0
  fi
  echo "auditd: not running"
  return 3
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || usage
  shift
  [[ $# -eq 0 ]] || usage
  case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) usage ;;
  esac
}

main "$@"
