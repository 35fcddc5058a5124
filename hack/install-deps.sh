#!/usr/bin/env bash
# Install the Debian packages the demo and the tests need, only those missing (one apt run).
# Shared by `make deps` (so by `make demo` and `make test`) and .ci/run.
#
#   PostgreSQL 15 server + client    the tests' and the demo's throwaway databases, pg_dump
#   podman, buildah, mmdebstrap      `make image`: the Dockerfile built without a Docker engine
#   gcc, libc6-dev                   the static pause binary of the node's sandbox image
#   containerd, runc, CNI plugins    the local cluster's real node
#   iptables, iproute2, util-linux   the node's network namespace (ip, nsenter) and rules
#   openssl, make                    the cluster's PKI; this Makefile
#   prometheus (for promtool)        `promtool check/test rules` on the chart's alerts
#   npm                              hack/fetch-pg.sh: PostgreSQL 17 beside Debian's 15 (run last)
# Needs root (apt-get); prints what it installs. Exit 0 when everything is already there.
set -euo pipefail
declare -A need_for=(
  [/usr/lib/postgresql/15/bin/postgres]="postgresql-15 postgresql-contrib"
  [pg_dump]=postgresql-client-15
  [podman]=podman
  [buildah]=buildah
  [mmdebstrap]=mmdebstrap
  [gcc]="gcc libc6-dev"
  [containerd]=containerd
  [runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables
  [ip]=iproute2
  [nsenter]=util-linux
  [openssl]=openssl
  [make]=make
  [npm]=npm
  [promtool]=prometheus
)
missing=()
for what in "${!need_for[@]}"; do
  if [[ $what == /* ]]; then [[ -e $what ]] && continue
  else command -v "$what" >/dev/null 2>&1 && continue
  fi
  read -r -a pkgs <<< "${need_for[$what]}"
  missing+=("${pkgs[@]}")
done
fetch_pg() { bash "$(dirname "$0")/fetch-pg.sh" >/dev/null; }
if (( ${#missing[@]} == 0 )); then
  echo "Debian packages: all present"
  fetch_pg
  exit 0
fi
if (( EUID != 0 )); then
  echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 2
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql package starts a cluster on :5432; ours run on their own ports and never
# use it, so stop it rather than leave a server running that nobody asked for.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1, $2}' |
    while read -r ver name; do pg_ctlcluster "$ver" "$name" stop || true; done
fi
# Debian's prometheus package starts a server where services may start; only promtool is used.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v invoke-rc.d >/dev/null 2>&1; then
  invoke-rc.d prometheus stop >/dev/null 2>&1 || true
fi
echo "Debian packages installed"
fetch_pg
