#!/usr/bin/env bash
# Build the local cluster's binaries (etcd; kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet and kubectl at one version) from the Go module proxy into a cache outside the work tree.
# Idempotent: a finished build is reused.
#
#   hack/build-k8s.sh            # prints the bin directory on the last line
#   hack/build-k8s.sh --bin-dir  # only prints where the binaries are (or will be); builds nothing
#
# Env: K8S_VERSION (default v1.36.3), ETCD_VERSION (default v3.6.16),
#      DBMIGRATOR_CACHE (default ~/.cache/dbmigrator).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
CACHE=${DBMIGRATOR_CACHE:-$HOME/.cache/dbmigrator}
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
SRC="$CACHE/src"
if [[ ${1:-} == --bin-dir ]]; then echo "$BIN"; exit 0; fi
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# One build at a time per cache: a second caller (another work tree, a parallel test run) waits.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build-k8s.lock"
if ! flock -n 9; then log "another build holds $CACHE/.build-k8s.lock; waiting"; flock 9; fi

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
have_all() { local c; for c in etcd "${K8S_CMDS[@]}"; do [[ -x "$BIN/$c" ]] || return 1; done; }
if have_all; then
  log "cached binaries in $BIN"
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build the control plane binaries" >&2; exit 2; }
mkdir -p "$BIN" "$SRC"

# ---- etcd: its own consumer module, so its versions never pull Kubernetes' and back ----------
if [[ ! -x "$BIN/etcd" ]]; then
  log "building etcd $ETCD_VERSION (a few minutes on 2 cores)"
  d="$SRC/etcd-$ETCD_VERSION"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  cat > main.go <<'GO'
// Command etcd runs the etcd server; a consumer module so the build needs no replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod init localcluster/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go mod tidy >&2
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" . >&2
  mv "$BIN/etcd.tmp" "$BIN/etcd"
  log "etcd done"
fi

# ---- Kubernetes: require k8s.io/kubernetes, replace each staging module by its v0.Y.Z release ----
if ! have_all; then
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}; patch=${K8S_VERSION##*.}
  staging="v0.$minor.$patch"
  log "building ${K8S_CMDS[*]} $K8S_VERSION (cold Go caches: about 10-12 min on 2 cores)"
  d="$SRC/k8s-$K8S_VERSION"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || { echo "could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -1)
  # The staging modules are exactly the ones the release replaces with ./staging/src paths.
  mods=$(grep -E '=>[[:space:]]*\./staging/src/' "$gomod" | awk '{print $1}' | sort -u)
  log "$(echo "$mods" | wc -l) staging modules replaced by $staging"
  {
    echo "module localcluster/k8s"
    echo
    echo "go $gover"
    echo
    echo "godebug default=go${gover%.*}"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    for m in $mods; do echo "replace $m => $m $staging"; done
  } > go.mod
  pkgs=(); for c in "${K8S_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  tools=(); for p in "${pkgs[@]}"; do tools+=("$p@$K8S_VERSION"); done
  go get -tool "${tools[@]}" >&2
  vpkg=k8s.io/component-base/version
  ldflags="-s -w -X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor"
  ldflags="$ldflags -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
  mkdir -p out
  go build -trimpath -ldflags "$ldflags" -o out/ "${pkgs[@]}" >&2
  for c in "${K8S_CMDS[@]}"; do mv "out/$c" "$BIN/"; done
  log "kubernetes done"
fi
echo "$BIN"
