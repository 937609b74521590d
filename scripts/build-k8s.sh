#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd from their published Go modules (the Go module proxy), for the Kubernetes
# tests and benchmarks. Nothing of Kubernetes or etcd is copied into this repository: a throw-away module in the cache
# requires k8s.io/kubernetes and pins each k8s.io staging module it replaces with "./staging/..." to the published
# v0.<minor>.<patch> version (the documented way to use k8s.io/kubernetes as a module), then `go build`s the command.
#   bash scripts/build-k8s.sh          # prints the directory holding kube-apiserver and etcd
# Cache: $BGPLB_K8S_CACHE (default /var/cache/bgplb/k8s-<version>); a finished build is reused.
set -euo pipefail

K8S_VERSION=${BGPLB_K8S_VERSION:-v1.37.2}
ETCD_VERSION=${BGPLB_ETCD_VERSION:-v3.7.3}
cache=${BGPLB_K8S_CACHE:-/var/cache/bgplb/k8s-$K8S_VERSION-etcd-$ETCD_VERSION}
bin="$cache/bin"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-k8s: go is not installed" >&2; exit 1; }
mkdir -p "$bin" "$cache/apiserver" "$cache/etcd"
export GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf 'build-k8s: %s (t+%ss)\n' "$1" "$SECONDS" >&2; }

log "etcd $ETCD_VERSION"
(
  cd "$cache/etcd"
  [ -f go.mod ] || go mod init bgplb.local/etcd-build >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go build -trimpath -ldflags=-s -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$bin/etcd.tmp" "$bin/etcd"
)

log "kube-apiserver $K8S_VERSION (first build: 10-20 minutes on 2 cores)"
(
  cd "$cache/apiserver"
  staging="v0.${K8S_VERSION#v1.}"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  {
    echo "module bgplb.local/kube-apiserver-build"
    echo
    sed -n 's/^go \(.*\)/go \1/p' "$gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } >go.mod
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >&2
  go build -trimpath -ldflags=-s -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
)
log "done"
echo "$bin"
