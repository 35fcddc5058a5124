#!/usr/bin/env bash
# Build or fetch the peers of `make bench-peers` into a cache outside the work tree. Idempotent.
#
#   hack/build-peers.sh          # progress on stderr; last line: the peers directory
#
# - golang-migrate CLI from its Go module (-tags postgres), into $DIR/migrate
# - Flyway from Maven Central jars (the -linux-x64 tarballs are not served, only jars):
#   `mvn dependency:copy-dependencies` from a generated pom (tools/peers.py) into $DIR/flyway/lib.
#   Its command line, flyway-commandline 13.12.1, needs flyway-core-utilities,
#   flyway-command-mcp and flyway-verb-*, which Maven Central does not serve, so
#   hack/flyway/FlywayMigrate.java (compiled here) runs Flyway.migrate() with the command line's
#   `-key=value` options: $DIR/flyway/flyway
# Atlas (ariga.io/atlas/cmd/atlas) is not built: see docs/benchmarks.md ("Peers").
#
# Env: MIGRATE_VERSION (v4.20.1), FLYWAY_VERSION (13.12.1), PGJDBC_VERSION (42.7.8),
#      DBMIGRATOR_CACHE (default ~/.cache/dbmigrator). A peer whose build fails is reported and
#      skipped (the benchmark skips a missing peer with a reason); the script still exits 0 so
#      the other peers run.
set -euo pipefail

MIGRATE_VERSION=${MIGRATE_VERSION:-v4.20.1}
FLYWAY_VERSION=${FLYWAY_VERSION:-13.12.1}
PGJDBC_VERSION=${PGJDBC_VERSION:-42.7.8}
CACHE=${DBMIGRATOR_CACHE:-$HOME/.cache/dbmigrator}
DIR="$CACHE/tools/peers"
HERE=$(cd "$(dirname "$0")" && pwd)
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-peers %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$DIR"

build_migrate() {
  local bin="$DIR/migrate" stamp="$DIR/migrate.version"
  if [[ -x "$bin" && "$(cat "$stamp" 2>/dev/null)" == "$MIGRATE_VERSION" ]]; then
    log "cached golang-migrate $MIGRATE_VERSION"; return 0
  fi
  command -v go >/dev/null || { log "go is missing: golang-migrate skipped"; return 1; }
  log "building golang-migrate $MIGRATE_VERSION (cold: a few minutes on 2 cores)"
  local start tmp; start=$(date +%s)
  # A temporary GOBIN moved into place: an interrupted build never leaves a half-written binary.
  tmp=$(mktemp -d "$DIR/.build.XXXXXX")
  if GOBIN="$tmp" go install -trimpath -ldflags "-s -w" -tags 'postgres' \
      "github.com/golang-migrate/migrate/v4/cmd/migrate@$MIGRATE_VERSION" >&2; then
    mv "$tmp/migrate" "$bin"; echo "$MIGRATE_VERSION" >"$stamp"; rm -rf "$tmp"
    log "golang-migrate built in $(( $(date +%s) - start ))s"
  else
    rm -rf "$tmp"; log "golang-migrate build failed"; return 1
  fi
}

build_flyway() {
  local fdir="$DIR/flyway" stamp="$DIR/flyway/version" src="$HERE/flyway/FlywayMigrate.java"
  local want; want="$FLYWAY_VERSION pgjdbc-$PGJDBC_VERSION $(sha256sum "$src" | cut -c1-16)"
  if [[ -x "$fdir/flyway" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    log "cached Flyway $FLYWAY_VERSION"; return 0
  fi
  command -v mvn >/dev/null && command -v javac >/dev/null \
    || { log "mvn or javac is missing: Flyway skipped"; return 1; }
  log "resolving Flyway $FLYWAY_VERSION from Maven Central (cold: a minute or two)"
  local tmp; tmp=$(mktemp -d "$DIR/.flyway.XXXXXX")
  python3 "$HERE/../tools/peers.py" pom --flyway "$FLYWAY_VERSION" --pgjdbc "$PGJDBC_VERSION" >"$tmp/pom.xml"
  python3 "$HERE/../tools/peers.py" settings >"$tmp/settings.xml"
  if mvn -q -B -s "$tmp/settings.xml" -f "$tmp/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$tmp/lib" -DincludeScope=runtime >&2 \
    && javac -cp "$tmp/lib/*" -d "$tmp/classes" "$src" >&2; then
    cat >"$tmp/flyway" <<'SH'
#!/bin/sh
# Flyway's migrate on PostgreSQL: its engine from Maven Central jars and hack/flyway/FlywayMigrate.java
# (built by hack/build-peers.sh).
here=$(dirname "$(readlink -f "$0")")
exec java -cp "$here/classes:$here/lib/*" FlywayMigrate "$@"
SH
    chmod +x "$tmp/flyway"
    echo "$want" >"$tmp/version"
    rm -rf "$fdir"; mv "$tmp" "$fdir"
    log "Flyway $FLYWAY_VERSION: $(ls "$fdir/lib" | wc -l) jars"
  else
    rm -rf "$tmp"; log "Flyway resolution or compilation failed"; return 1
  fi
}

build_migrate || true
build_flyway || true
echo "$DIR"
