#!/usr/bin/env bash
# Installs helm (not packaged in Debian) from the Go module proxy into
# $ARMORSMITH_CACHE_DIR/go/bin and prints its path. A no-op when that helm is
# already there at the pinned version.
#
# Environment: ARMORSMITH_CACHE_DIR ($HOME/.cache/armorsmith), ARMORSMITH_HELM_VERSION (3.22.0;
# any helm.sh/helm/v3 release the proxy serves).
set -euo pipefail

PROG=install-helm.sh
HELM_VERSION=${ARMORSMITH_HELM_VERSION:-3.22.0}
HELM_VERSION=${HELM_VERSION#v}
CACHE_ROOT=${ARMORSMITH_CACHE_DIR:-${HOME:-/root}/.cache/armorsmith}
GO_ROOT=$CACHE_ROOT/go
HELM_BIN=$GO_ROOT/bin/helm

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { msg "$*"; exit 1; }

# the same Go layout as deploy/local/kube-apiserver.sh, so both share one module cache
go_env() {
  export GOPATH=$GO_ROOT GOMODCACHE=$GO_ROOT/pkg/mod GOBIN=$GO_ROOT/bin
  export GOCACHE=$GO_ROOT/build-cache GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
}

# A release build sets helm's version and the Kubernetes version that `helm template` and
# `helm lint` assume (client-go v0.N -> 1.N) with -ldflags; go install does not, so this
# does as helm's Makefile does and records what it built beside the binary.
STAMP=$GO_ROOT/bin/.helm-version
RECIPE="helm v$HELM_VERSION, ldflags 1"

if [[ -x $HELM_BIN && -f $STAMP && $(<"$STAMP") == "$RECIPE" ]]; then
  echo "$HELM_BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "go not found in PATH (needed once to build helm from the Go module proxy)"
go_env
mkdir -p "$GOBIN"
t0=$SECONDS
msg "building helm v$HELM_VERSION with $(go version | awk '{print $3}') (first run only: 3 to 6 min on 2 cores)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
gomod=$(cd "$GO_ROOT" && go mod download -json "helm.sh/helm/v3@v$HELM_VERSION" 2>>"$log" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p') || true
[[ -n $gomod && -f $gomod ]] || { cat "$log" >&2; die "could not download helm.sh/helm/v3@v$HELM_VERSION from the Go module proxy"; }
# k8s.io/client-go v0.34.1 -> Kubernetes 1.34
k8s_minor=$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2]; exit }' "$gomod")
[[ $k8s_minor =~ ^[0-9]+$ ]] || die "no k8s.io/client-go requirement in $gomod"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
if ! go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" >>"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "go install helm.sh/helm/v3/cmd/helm@v$HELM_VERSION failed"
fi
echo "$RECIPE" >"$STAMP"
msg "built in $((SECONDS - t0))s: $("$HELM_BIN" version --short 2>/dev/null), Kubernetes 1.$k8s_minor by default"
echo "$HELM_BIN"
