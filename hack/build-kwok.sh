#!/usr/bin/env bash
# Build kwok (sigs.k8s.io/kwok, the SIG's simulator of nodes and pod lifecycles) from its Go
# module into a cache outside the work tree, for `make bench-scale`. Idempotent.
#
#   hack/build-kwok.sh           # progress on stderr; the kwok binary's path on the last line
#
# Env: KWOK_VERSION (default v0.8.0, the newest the proxy served when this was written:
#      `go list -m -versions sigs.k8s.io/kwok`), DBMIGRATOR_CACHE (default ~/.cache/dbmigrator).
# A cold build takes a few minutes on 2 cores; warm: instant.
set -euo pipefail

KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${DBMIGRATOR_CACHE:-$HOME/.cache/dbmigrator}
DIR="$CACHE/tools/kwok-$KWOK_VERSION"
KWOK="$DIR/kwok"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-kwok %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x "$KWOK" ]]; then
  log "cached kwok $KWOK_VERSION"
  echo "$KWOK"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build kwok" >&2; exit 2; }
mkdir -p "$DIR"
log "building kwok $KWOK_VERSION into $DIR (cold: a few minutes on 2 cores)"
start=$(date +%s)
# A temporary GOBIN moved into place: an interrupted build never leaves a half-written binary.
tmp=$(mktemp -d "$DIR/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
mv "$tmp/kwok" "$KWOK"
log "kwok $KWOK_VERSION built in $(( $(date +%s) - start ))s"
echo "$KWOK"
