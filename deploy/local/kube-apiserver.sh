#!/usr/bin/env bash
# A real Kubernetes API server (kube-apiserver + etcd, no kubelet, no controller-manager)
# on loopback for armorsmith's local run and tests, with the vArmor CRDs applied.
#
#   kube-apiserver.sh install          build etcd + kube-apiserver from the Go module proxy
#                                      (first time only: ~9 min and ~3 GB on 2 cores; reused after)
#   kube-apiserver.sh start            install when needed, start etcd and kube-apiserver (no-op
#                                      when running), wait for /readyz, apply the CRDs
#   kube-apiserver.sh stop [--purge]   stop both (no-op when not running); --purge also deletes
#                                      etcd's data, the certificates and the kubeconfig
#   kube-apiserver.sh status           exit 0 when running and ready, 3 when not running
#   kube-apiserver.sh env              print eval-able exports (KUBECONFIG, server, CA, token)
#   kube-apiserver.sh apply-crds       (re)apply the CRDs to the running server
#
# How the binaries are built: k8s.io/kubernetes cannot be "go install"ed (its go.mod replaces
# the staging modules with ./staging/..., which the module zip does not hold), so install
# writes a small wrapper module that requires k8s.io/kubernetes vX.Y.Z and replaces each
# staging module with its published twin k8s.io/<name> v0.Y.Z, then builds
# k8s.io/kubernetes/cmd/kube-apiserver and go.etcd.io/etcd/server/v3 (the etcd release that
# Kubernetes release pins) in it. Binaries: $CACHE/kube-vX.Y.Z/bin/{kube-apiserver,etcd}.
#
# What runs: etcd on 127.0.0.1:12379 (peer 12380), kube-apiserver on https://127.0.0.1:16443
# with a CA + serving cert, client-cert auth (--client-ca-file), a static token file
# (admin token, group system:masters; plus a "nobody" token with no rights for negative
# tests), service-account tokens (TokenRequest/TokenReview work), --authorization-mode=RBAC.
# PodTemplates are not in the watch cache (--watch-cache-sizes=podtemplates#0), so a watch or
# an exact list of them at a compacted resourceVersion reaches etcd and gets 410 Gone, as
# on a long-running cluster: integration-tests/test_kube_client.py compacts etcd first.
# The ServiceAccount admission plugin is off (no controller-manager creates "default"
# service accounts, so pods would be refused); nothing schedules or runs pods.
#
# Environment: ARMORSMITH_STATE_DIR (/tmp/armorsmith-local; state in <it>/kube),
# ARMORSMITH_CACHE_DIR ($HOME/.cache/armorsmith), ARMORSMITH_KUBE_VERSION (1.34.4; any
# k8s.io/kubernetes release the proxy serves), ARMORSMITH_KUBE_PORT (16443),
# ARMORSMITH_ETCD_PORT (12379; peer port is it + 1), ARMORSMITH_KUBE_START_TIMEOUT (seconds,
# 120), ARMORSMITH_CRDS_DIR (default: deploy/crds in this repo if present, else
# ../shared/contracts/crds beside the repo), ARMORSMITH_ETCD_MAX_REQUEST_BYTES (etcd's
# default 1.5 MiB: bigger objects fail with "etcdserver: request is too large"),
# ARMORSMITH_KUBE_APISERVER_BIN / ARMORSMITH_ETCD_BIN (use these binaries, skip the build),
# ARMORSMITH_KUBE_KEEP_GOCACHE=1 (keep the ~2 GB Go build cache after install).
set -euo pipefail

PROG=kube-apiserver.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)

KUBE_VERSION=${ARMORSMITH_KUBE_VERSION:-1.34.4}
KUBE_VERSION=${KUBE_VERSION#v}
HOST=127.0.0.1
PORT=${ARMORSMITH_KUBE_PORT:-16443}
ETCD_PORT=${ARMORSMITH_ETCD_PORT:-12379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
START_TIMEOUT=${ARMORSMITH_KUBE_START_TIMEOUT:-120}
SERVER=https://$HOST:$PORT
ETCD_URL=http://$HOST:$ETCD_PORT

STATE_ROOT=${ARMORSMITH_STATE_DIR:-/tmp/armorsmith-local}
STATE=$STATE_ROOT/kube
PKI=$STATE/pki
ETCD_DATA=$STATE/etcd-data
LOG_DIR=$STATE/logs
ETCD_LOG=$LOG_DIR/etcd.log
APISERVER_LOG=$LOG_DIR/kube-apiserver.log
ETCD_PID_FILE=$STATE/etcd.pid
APISERVER_PID_FILE=$STATE/kube-apiserver.pid
TOKEN_FILE=$PKI/tokens.csv
KUBECONFIG_FILE=$STATE/kubeconfig

CACHE_ROOT=${ARMORSMITH_CACHE_DIR:-${HOME:-/root}/.cache/armorsmith}
GO_ROOT=$CACHE_ROOT/go
KUBE_HOME=$CACHE_ROOT/kube-v$KUBE_VERSION
BUILD_DIR=$KUBE_HOME/build
BUILD_LOG=$KUBE_HOME/build.log
BIN_DIR=$KUBE_HOME/bin
BIN_OK=$KUBE_HOME/.complete
APISERVER_BIN=${ARMORSMITH_KUBE_APISERVER_BIN:-$BIN_DIR/kube-apiserver}
ETCD_BIN=${ARMORSMITH_ETCD_BIN:-$BIN_DIR/etcd}

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { msg "$*"; exit 1; }

usage() {
  echo "usage: $PROG {install|start|stop [--purge]|status|env|apply-crds}" >&2
  exit 2
}

# One kube-apiserver.sh at a time per state dir (the lock sits beside the kube dir so
# --purge can remove that).
take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$STATE_ROOT"
  exec 9>"$STATE_ROOT/.kube.lock"
  if ! flock -w 900 9; then
    die "another $PROG is still running against $STATE_ROOT (lock $STATE_ROOT/.kube.lock)"
  fi
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found in PATH ($2)"
}

# ---------------------------------------------------------------- build

binaries_present() {
  [[ -x $APISERVER_BIN && -x $ETCD_BIN ]] || return 1
  if [[ -z ${ARMORSMITH_KUBE_APISERVER_BIN:-} || -z ${ARMORSMITH_ETCD_BIN:-} ]]; then
    [[ -f $BIN_OK ]] || return 1
  fi
}

go_env() {
  export GOPATH=$GO_ROOT GOMODCACHE=$GO_ROOT/pkg/mod GOBIN=$GO_ROOT/bin
  export GOCACHE=$GO_ROOT/build-cache GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
}

# go.mod of the wrapper: k8s.io/kubernetes vX.Y.Z, each staging module replaced by v0.Y.Z
write_wrapper_module() {
  local modfile staging_version=0.${KUBE_VERSION#*.}
  modfile=$(cd "$KUBE_HOME" && go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" 2>>"$BUILD_LOG" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p') || true
  [[ -n $modfile && -f $modfile ]] ||
    die "could not download k8s.io/kubernetes@v$KUBE_VERSION from the go module proxy (log: $BUILD_LOG)"
  mkdir -p "$BUILD_DIR"
  {
    echo "// generated by deploy/local/kube-apiserver.sh"
    echo "module armorsmith.local/kubebuild"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile" | head -n1)"
    echo
    echo "require k8s.io/kubernetes v$KUBE_VERSION"
    echo
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "$modfile" |
      awk -v v="v$staging_version" '$2 == "=>" && $3 ~ /^\.\/staging\// { print "\t" $1 " => " $1 " " v }'
    echo ")"
  } >"$BUILD_DIR/go.mod.new"
  grep -q '=> k8s.io/api ' "$BUILD_DIR/go.mod.new" ||
    die "k8s.io/kubernetes@v$KUBE_VERSION's go.mod has no staging replace lines; this script does not know how to build it (see $modfile)"
  if ! cmp -s "$BUILD_DIR/go.mod.new" "$BUILD_DIR/go.mod"; then
    mv "$BUILD_DIR/go.mod.new" "$BUILD_DIR/go.mod"
    rm -f "$BUILD_DIR/go.sum"
  else
    rm -f "$BUILD_DIR/go.mod.new"
  fi
}

cmd_install() {
  if binaries_present; then
    msg "kube-apiserver and etcd already built ($BIN_DIR)"
    return 0
  fi
  need go "needed once to build kube-apiserver and etcd from the go module proxy"
  go_env
  mkdir -p "$KUBE_HOME" "$BIN_DIR"
  : >"$BUILD_LOG"
  local t0=$SECONDS minor=${KUBE_VERSION#*.}
  minor=${minor%%.*}
  msg "building kube-apiserver v$KUBE_VERSION and etcd with $(go version | awk '{print $3}') (first run only; ~9 min on 2 cores, log: $BUILD_LOG)"
  write_wrapper_module
  local pkgv=k8s.io/component-base/version
  local ldflags="-s -w -X $pkgv.gitVersion=v$KUBE_VERSION -X $pkgv.gitMajor=1 -X $pkgv.gitMinor=$minor -X $pkgv.gitTreeState=clean -X $pkgv.buildDate=1970-01-01T00:00:00Z"
  local tmp
  tmp=$(mktemp -d "$KUBE_HOME/bin.tmp.XXXXXX")
  if ! (cd "$BUILD_DIR" && go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" \
      k8s.io/kubernetes/cmd/kube-apiserver) >>"$BUILD_LOG" 2>&1; then
    rm -rf "$tmp"
    die "building kube-apiserver v$KUBE_VERSION failed (log: $BUILD_LOG)"
  fi
  # the etcd server release k8s.io/kubernetes pins (its main package is the module root)
  if ! (cd "$BUILD_DIR" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" \
      go.etcd.io/etcd/server/v3) >>"$BUILD_LOG" 2>&1; then
    rm -rf "$tmp"
    die "building etcd (go.etcd.io/etcd/server/v3, as pinned by k8s.io/kubernetes v$KUBE_VERSION) failed (log: $BUILD_LOG)"
  fi
  mv -f "$tmp/kube-apiserver" "$tmp/etcd" "$BIN_DIR/"
  rmdir "$tmp"
  touch "$BIN_OK"
  if [[ ${ARMORSMITH_KUBE_KEEP_GOCACHE:-0} != 1 ]]; then
    go clean -cache >>"$BUILD_LOG" 2>&1 || true
  fi
  msg "built in $((SECONDS - t0))s: $("$BIN_DIR/kube-apiserver" --version 2>/dev/null), etcd $("$BIN_DIR/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: //p') ($BIN_DIR)"
}

# ---------------------------------------------------------------- pki

gen_pki() {
  need openssl "needed to make the local CA and certificates"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  local days=3650
  if [[ ! -s $PKI/ca.crt || ! -s $PKI/ca.key ]]; then
    openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -nodes -key "$PKI/ca.key" -sha256 -days "$days" \
      -subj "/CN=armorsmith-local-ca" -out "$PKI/ca.crt" 2>/dev/null
    rm -f "$PKI/apiserver.crt" "$PKI/admin.crt"
  fi
  if [[ ! -s $PKI/apiserver.crt || ! -s $PKI/apiserver.key ]]; then
    openssl genrsa -out "$PKI/apiserver.key" 2048 2>/dev/null
    openssl req -new -key "$PKI/apiserver.key" -subj "/CN=kube-apiserver" \
      -out "$PKI/apiserver.csr" 2>/dev/null
    cat >"$PKI/apiserver.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -CAcreateserial -days "$days" -sha256 -extfile "$PKI/apiserver.ext" \
      -out "$PKI/apiserver.crt" 2>/dev/null
  fi
  # client certificate for the kubeconfig's cert user (O=system:masters)
  if [[ ! -s $PKI/admin.crt || ! -s $PKI/admin.key ]]; then
    openssl genrsa -out "$PKI/admin.key" 2048 2>/dev/null
    openssl req -new -key "$PKI/admin.key" -subj "/O=system:masters/CN=armorsmith-admin" \
      -out "$PKI/admin.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
      >"$PKI/admin.ext"
    openssl x509 -req -in "$PKI/admin.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -CAcreateserial -days "$days" -sha256 -extfile "$PKI/admin.ext" \
      -out "$PKI/admin.crt" 2>/dev/null
  fi
  if [[ ! -s $PKI/sa.key || ! -s $PKI/sa.pub ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  if [[ ! -s $TOKEN_FILE ]]; then
    local admin nobody
    admin=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    nobody=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # token,user,uid,"group1,group2"
    printf '%s,armorsmith-admin,armorsmith-admin,"system:masters"\n%s,armorsmith-nobody,armorsmith-nobody\n' \
      "$admin" "$nobody" >"$TOKEN_FILE"
  fi
  chmod 600 "$PKI"/*.key "$TOKEN_FILE"
}

admin_token() { awk -F, '$2 == "armorsmith-admin" { print $1; exit }' "$TOKEN_FILE"; }
nobody_token() { awk -F, '$2 == "armorsmith-nobody" { print $1; exit }' "$TOKEN_FILE"; }

write_kubeconfig() {
  local token
  token=$(admin_token)
  local tmp=$KUBECONFIG_FILE.tmp
  cat >"$tmp" <<EOF
# generated by deploy/local/kube-apiserver.sh
apiVersion: v1
kind: Config
clusters:
- name: armorsmith-local
  cluster:
    server: $SERVER
    certificate-authority: $PKI/ca.crt
users:
- name: armorsmith-admin
  user:
    token: $token
- name: armorsmith-admin-cert
  user:
    client-certificate: $PKI/admin.crt
    client-key: $PKI/admin.key
- name: armorsmith-nobody
  user:
    token: $(nobody_token)
contexts:
- name: armorsmith-local
  context:
    cluster: armorsmith-local
    user: armorsmith-admin
    namespace: default
- name: armorsmith-local-cert
  context:
    cluster: armorsmith-local
    user: armorsmith-admin-cert
    namespace: default
- name: armorsmith-local-nobody
  context:
    cluster: armorsmith-local
    user: armorsmith-nobody
    namespace: default
current-context: armorsmith-local
EOF
  chmod 600 "$tmp"
  mv -f "$tmp" "$KUBECONFIG_FILE"
}

# ---------------------------------------------------------------- process

# running_pid PIDFILE PATTERN: the pid when alive and still ours (cmdline has PATTERN)
running_pid() {
  local file=$1 pat=$2 pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pat" || return 1
  echo "$pid"
}
etcd_pid() { running_pid "$ETCD_PID_FILE" "--data-dir=$ETCD_DATA"; }
apiserver_pid() { running_pid "$APISERVER_PID_FILE" "--token-auth-file=$TOKEN_FILE"; }

port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# SIGTERM, up to 30s for a clean shutdown, then SIGKILL
stop_pid() {
  local pid=$1 name=$2 log=$3 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  msg "$name (pid $pid) still running after 30s, sending SIGKILL (log: $log)"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

show_tail() {
  local log=$1
  if [[ -s $log ]]; then
    msg "last lines of $log:"
    tail -n 8 "$log" | cut -c1-400 | sed "s/^/$PROG:   /" >&2
  fi
}

etcd_healthy() {
  curl -fsS --max-time 3 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'
}

# kube GET/POST...: curl against the API server as the admin; prints the body, the HTTP
# status on the last line
kcurl() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 30 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    -X "$method" -w '\n%{http_code}\n' "$@" "$SERVER$path"
}

apiserver_ready() {
  local out
  out=$(kcurl GET /readyz 2>/dev/null) || return 1
  [[ $(tail -n1 <<<"$out") == 200 ]]
}

start_etcd() {
  local pid
  if pid=$(etcd_pid); then
    return 0
  fi
  if port_open "$ETCD_PORT" || port_open "$ETCD_PEER_PORT"; then
    die "port $ETCD_PORT or $ETCD_PEER_PORT on $HOST is taken by another process (not this state dir's etcd: $STATE)"
  fi
  mkdir -p "$ETCD_DATA" "$LOG_DIR"
  chmod 700 "$ETCD_DATA"
  local extra=()
  if [[ -n ${ARMORSMITH_ETCD_MAX_REQUEST_BYTES:-} ]]; then
    extra+=("--max-request-bytes=$ARMORSMITH_ETCD_MAX_REQUEST_BYTES")
  fi
  msg "starting etcd on $ETCD_URL (data $ETCD_DATA, log $ETCD_LOG)"
  # setsid: own session, survives the caller's terminal; 9>&- : do not inherit the lock
  setsid "$ETCD_BIN" \
    --name=armorsmith-local \
    --data-dir="$ETCD_DATA" \
    --listen-client-urls="$ETCD_URL" \
    --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://$HOST:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster="armorsmith-local=http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster-state=new \
    --unsafe-no-fsync=true \
    --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
    --log-level=warn \
    "${extra[@]}" \
    </dev/null >>"$ETCD_LOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$ETCD_PID_FILE"
  ETCD_STARTED_NOW=1
  local deadline=$((SECONDS + START_TIMEOUT))
  until etcd_healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$ETCD_PID_FILE"
      show_tail "$ETCD_LOG"
      die "etcd exited during start-up (log: $ETCD_LOG)"
    fi
    if ((SECONDS >= deadline)); then
      stop_pid "$pid" etcd "$ETCD_LOG"
      rm -f "$ETCD_PID_FILE"
      show_tail "$ETCD_LOG"
      die "etcd on $ETCD_URL was not healthy within ${START_TIMEOUT}s (log: $ETCD_LOG)"
    fi
    sleep 0.2
  done
}

# a kube-apiserver start that failed also stops the etcd this run started
ETCD_STARTED_NOW=0
stop_fresh_etcd() {
  local pid
  if ((ETCD_STARTED_NOW)) && pid=$(etcd_pid); then
    stop_pid "$pid" etcd "$ETCD_LOG"
    rm -f "$ETCD_PID_FILE"
  fi
}

start_apiserver() {
  local pid
  if pid=$(apiserver_pid); then
    return 0
  fi
  if port_open "$PORT"; then
    stop_fresh_etcd
    die "port $PORT on $HOST is taken by another process (not this state dir's kube-apiserver: $STATE)"
  fi
  mkdir -p "$LOG_DIR" "$STATE/cert-dir"
  msg "starting kube-apiserver on $SERVER (log $APISERVER_LOG)"
  setsid "$APISERVER_BIN" \
    --bind-address="$HOST" \
    --advertise-address="$HOST" \
    --secure-port="$PORT" \
    --etcd-servers="$ETCD_URL" \
    --cert-dir="$STATE/cert-dir" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --token-auth-file="$TOKEN_FILE" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --authorization-mode=RBAC \
    --anonymous-auth=false \
    --disable-admission-plugins=ServiceAccount \
    --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true \
    --profiling=false \
    --enable-priority-and-fairness=false \
    --watch-cache-sizes=podtemplates#0 \
    --v=1 \
    </dev/null >>"$APISERVER_LOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$APISERVER_PID_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until apiserver_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$APISERVER_PID_FILE"
      show_tail "$APISERVER_LOG"
      stop_fresh_etcd
      die "kube-apiserver exited during start-up (log: $APISERVER_LOG)"
    fi
    if ((SECONDS >= deadline)); then
      stop_pid "$pid" kube-apiserver "$APISERVER_LOG"
      rm -f "$APISERVER_PID_FILE"
      show_tail "$APISERVER_LOG"
      stop_fresh_etcd
      die "kube-apiserver on $SERVER was not ready (/readyz) within ${START_TIMEOUT}s (log: $APISERVER_LOG)"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- CRDs

crds_dir() {
  if [[ -n ${ARMORSMITH_CRDS_DIR:-} ]]; then
    echo "$ARMORSMITH_CRDS_DIR"
  elif compgen -G "$REPO_DIR/deploy/crds/*.yaml" >/dev/null; then
    echo "$REPO_DIR/deploy/crds"
  elif [[ -d $REPO_DIR/../shared/contracts/crds ]]; then
    (cd "$REPO_DIR/../shared/contracts/crds" && pwd)
  else
    echo "$REPO_DIR/../shared/contracts/crds"
  fi
}

# metadata.name of a one-object YAML file (controller-gen layout)
yaml_name() {
  awk '/^metadata:/ { m = 1; next } m && /^[^ ]/ { m = 0 } m && /^  name:/ { print $2; exit }' "$1"
}

do_apply_crds() {
  local dir f name out code n=0 names=()
  dir=$(crds_dir)
  if ! compgen -G "$dir/*.yaml" >/dev/null; then
    msg "no CRDs applied: no *.yaml in $dir (set ARMORSMITH_CRDS_DIR)"
    return 0
  fi
  for f in "$dir"/*.yaml; do
    name=$(yaml_name "$f")
    [[ -n $name ]] || die "no metadata.name in $f"
    # server-side apply: creates or updates, idempotent; the API server parses the YAML
    out=$(kcurl PATCH "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name?fieldManager=armorsmith-local&force=true" \
      -H 'Content-Type: application/apply-patch+yaml' --data-binary "@$f" 2>&1) ||
      die "applying CRD $name from $f failed: curl: $(tail -n1 <<<"$out") (log: $APISERVER_LOG)"
    code=$(tail -n1 <<<"$out")
    if [[ $code != 200 && $code != 201 ]]; then
      die "applying CRD $name from $f failed: HTTP $code: $(sed '$d' <<<"$out" | tr -d '\n' | cut -c1-400) (log: $APISERVER_LOG)"
    fi
    names+=("$name")
    n=$((n + 1))
  done
  # wait until each is Established and its resource is served
  local deadline=$((SECONDS + START_TIMEOUT)) group plural version
  for name in "${names[@]}"; do
    plural=${name%%.*}
    group=${name#*.}
    while :; do
      out=$(kcurl GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" 2>/dev/null | tr -d ' \n') || out=
      version=$(grep -o '"storedVersions":\["[^"]*"' <<<"$out" | sed 's/.*\["//; s/"$//') || version=
      if [[ -n $version ]] && grep -q '"type":"Established","status":"True"' <<<"$out" &&
          [[ $(kcurl GET "/apis/$group/$version/$plural?limit=1" 2>/dev/null | tail -n1) == 200 ]]; then
        break
      fi
      if ((SECONDS >= deadline)); then
        die "CRD $name was not established and served within ${START_TIMEOUT}s (log: $APISERVER_LOG)"
      fi
      sleep 0.3
    done
  done
  msg "applied $n CRD(s) from $dir"
}

# ---------------------------------------------------------------- commands

cmd_start() {
  need curl "needed to talk to the API server"
  local pid
  if pid=$(apiserver_pid) && etcd_pid >/dev/null && apiserver_ready; then
    msg "already running (kube-apiserver pid $pid, $SERVER)"
    do_apply_crds
    write_kubeconfig
    return 0
  fi
  cmd_install
  [[ -x $APISERVER_BIN ]] || die "kube-apiserver binary not found at $APISERVER_BIN"
  [[ -x $ETCD_BIN ]] || die "etcd binary not found at $ETCD_BIN"
  mkdir -p "$STATE" "$LOG_DIR"
  gen_pki
  local t0=$SECONDS
  start_etcd
  start_apiserver
  write_kubeconfig
  do_apply_crds
  msg "kube-apiserver is up in $((SECONDS - t0))s (pid $(apiserver_pid), $SERVER); use: eval \"\$($SCRIPT_DIR/$PROG env)\""
}

cmd_stop() {
  local purge=0 pid
  case ${1:-} in
    --purge) purge=1 ;;
    "") ;;
    *) usage ;;
  esac
  if pid=$(apiserver_pid); then
    msg "stopping kube-apiserver (pid $pid)"
    stop_pid "$pid" kube-apiserver "$APISERVER_LOG"
  fi
  rm -f "$APISERVER_PID_FILE"
  if pid=$(etcd_pid); then
    msg "stopping etcd (pid $pid)"
    stop_pid "$pid" etcd "$ETCD_LOG"
  fi
  rm -f "$ETCD_PID_FILE"
  if ((purge)); then
    rm -rf "$STATE"
    msg "purged $STATE"
  fi
}

cmd_status() {
  local pid epid
  if ! pid=$(apiserver_pid); then
    if epid=$(etcd_pid); then
      echo "kube-apiserver: not running (etcd is: pid $epid, $ETCD_URL)"
    else
      echo "kube-apiserver: not running"
    fi
    return 3
  fi
  if ! epid=$(etcd_pid); then
    echo "kube-apiserver: running (pid $pid) but its etcd is not (log: $ETCD_LOG)"
    return 1
  fi
  if apiserver_ready; then
    echo "kube-apiserver: running (pid $pid, $SERVER; etcd pid $epid, $ETCD_URL; kubeconfig $KUBECONFIG_FILE)"
    return 0
  fi
  echo "kube-apiserver: running but not ready (pid $pid, $SERVER, log $APISERVER_LOG)"
  return 1
}

cmd_env() {
  [[ -s $TOKEN_FILE && -s $KUBECONFIG_FILE ]] ||
    die "no kubeconfig yet in $STATE (start it with: $SCRIPT_DIR/$PROG start)"
  cat <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export ARMORSMITH_KUBE_SERVER=$SERVER
export ARMORSMITH_KUBE_CA=$PKI/ca.crt
export ARMORSMITH_KUBE_TOKEN=$(admin_token)
export ARMORSMITH_KUBE_NOBODY_TOKEN=$(nobody_token)
export ARMORSMITH_KUBE_CLIENT_CERT=$PKI/admin.crt
export ARMORSMITH_KUBE_CLIENT_KEY=$PKI/admin.key
export ARMORSMITH_ETCD_URL=$ETCD_URL
EOF
}

cmd_apply_crds() {
  need curl "needed to talk to the API server"
  apiserver_pid >/dev/null && apiserver_ready ||
    die "kube-apiserver is not running or not ready (start it with: $SCRIPT_DIR/$PROG start; log: $APISERVER_LOG)"
  do_apply_crds
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || usage
  shift
  case $cmd in
    install) [[ $# -eq 0 ]] || usage; take_lock; cmd_install ;;
    start) [[ $# -eq 0 ]] || usage; take_lock; cmd_start ;;
    stop) take_lock; cmd_stop "$@" ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    env) [[ $# -eq 0 ]] || usage; cmd_env ;;
    apply-crds) [[ $# -eq 0 ]] || usage; take_lock; cmd_apply_crds ;;
    -h|--help|help) usage ;;
    *) usage ;;
  esac
}

main "$@"
