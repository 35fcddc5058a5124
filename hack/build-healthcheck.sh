#!/usr/bin/env bash
# Build hack/healthcheck (dbm-healthcheck: kstatus and Flux's own CEL health evaluation over
# DatabaseMigration objects) into a cache outside the work tree. Idempotent: the binary is reused
# while the sources it was built from (main.go, go.mod, go.sum) are unchanged.
#
#   hack/build-healthcheck.sh      # progress on stderr; the binary's path on the last line
#
# Env: DBMIGRATOR_CACHE (default ~/.cache/dbmigrator). Cold: a couple of minutes on 2 cores
# (client-go and cel-go compile); warm: instant. tests/unit/test_gitops_health.py calls it.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/healthcheck" && pwd)
CACHE=${DBMIGRATOR_CACHE:-$HOME/.cache/dbmigrator}
BIN="$CACHE/tools/bin"
TOOL="$BIN/dbm-healthcheck"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-healthcheck %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stamp=$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-16)
if [[ -x "$TOOL" && -f "$TOOL.stamp" && "$(cat "$TOOL.stamp")" == "$stamp" ]]; then
  log "cached dbm-healthcheck ($stamp)"
  echo "$TOOL"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build hack/healthcheck" >&2; exit 2; }
mkdir -p "$BIN"
log "building dbm-healthcheck into $BIN (cold: a couple of minutes on 2 cores)"
start=$(date +%s)
# Build to a temporary name and move into place: an interrupted build never leaves a binary
# that the check above would trust.
tmp=$(mktemp "$BIN/.dbm-healthcheck.XXXXXX")
trap 'rm -f "$tmp"' EXIT
(cd "$SRC" && go build -trimpath -ldflags "-s -w" -o "$tmp" .)
mv "$tmp" "$TOOL"
echo "$stamp" > "$TOOL.stamp"
log "built in $(( $(date +%s) - start ))s"
echo "$TOOL"
