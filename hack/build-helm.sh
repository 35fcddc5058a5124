#!/usr/bin/env bash
# Build helm from its Go module (the proxy serves it; there is no prebuilt download here) into a
# cache outside the work tree. Idempotent: a binary of the wanted version is reused.
#
#   hack/build-helm.sh           # progress on stderr; the helm binary's path on the last line
#
# Env: HELM_VERSION (default v3.22.0, the newest v3 the proxy served when this was written:
#      `go list -m -versions helm.sh/helm/v3`), DBMIGRATOR_CACHE (default ~/.cache/dbmigrator).
# A cold build takes a few minutes on 2 cores (most of it compiling client-go); warm: instant.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}
CACHE=${DBMIGRATOR_CACHE:-$HOME/.cache/dbmigrator}
BIN="$CACHE/tools/bin"
HELM="$BIN/helm"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x "$HELM" ]] && [[ "$("$HELM" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; then
  log "cached helm $HELM_VERSION"
  echo "$HELM"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build helm" >&2; exit 2; }
mkdir -p "$BIN"

# helm's Makefile stamps its version and the Kubernetes version its capabilities default to (the
# client-go minor it was built with); `go install` alone would report a bare "v3.22".
gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[[ -f "$gomod" ]] || { echo "could not download helm.sh/helm/v3@$HELM_VERSION" >&2; exit 1; }
k8s_minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -1)
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ldflags="$ldflags -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
if [[ -n "$k8s_minor" ]]; then
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
fi

log "building helm $HELM_VERSION into $BIN (cold: several minutes on 2 cores)"
start=$(date +%s)
# Install under a temporary GOBIN and move into place, so an interrupted build never leaves a
# half-written binary that the cache check above would trust.
tmp=$(mktemp -d "$BIN/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
mv "$tmp/helm" "$HELM"
log "helm $("$HELM" version --template '{{.Version}}') built in $(( $(date +%s) - start ))s"
echo "$HELM"
