#!/usr/bin/env bash
# Build the project's image from the Dockerfile with podman (no Docker engine, no registry), and
# the pod sandbox (pause) image the local node needs; export both as OCI archives for containerd.
#
#   hack/build-image.sh        # prints the image archive's path on the last line
#
# The base image docker.io/library/debian:bookworm-slim is made locally from the Debian archive
# with mmdebstrap (minbase, docs and locales left out like the slim image) and imported into
# podman's storage once; the Dockerfile is then built exactly as a user builds it. A rebuild with
# nothing changed reuses podman's layer cache and the exported archive (seconds).
#
# Env: IMAGE (default: the chart's image at its appVersion), DBMIGRATOR_CACHE (archives,
# default ~/.cache/dbmigrator), NOCACHE=1 (rebuild every layer).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${DBMIGRATOR_CACHE:-$HOME/.cache/dbmigrator}
OUT="$CACHE/images"
export CONTAINERS_CONF="$REPO/hack/containers.conf"
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$REPO/charts/dbmigration-operator/Chart.yaml")
IMAGE=${IMAGE:-ghcr.io/dbmigrator/dbmigration-operator:$app_version}
BASE=docker.io/library/debian:bookworm-slim
PAUSE=registry.k8s.io/pause:3.10.1
log() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
for tool in podman buildah mmdebstrap gcc; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run 'make deps' (Debian packages)" >&2; exit 2; }
done
mkdir -p "$OUT"
exec 9>"$OUT/.lock"; flock 9

# ---- the base: Debian bookworm minbase, slim-like --------------------------------------------
if ! podman image exists "$BASE"; then
  if [[ ! -s "$OUT/bookworm-minbase.tar" ]]; then
    log "making $BASE with mmdebstrap (about 2 min)"
    mmdebstrap --variant=minbase --mode=root --format=tar --quiet \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      bookworm "$OUT/bookworm-minbase.tar.partial" \
      "deb http://deb.debian.org/debian bookworm main" \
      "deb http://deb.debian.org/debian bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main"
    mv "$OUT/bookworm-minbase.tar.partial" "$OUT/bookworm-minbase.tar"
  fi
  podman import --quiet --change 'CMD ["bash"]' "$OUT/bookworm-minbase.tar" "$BASE" >/dev/null
  log "imported $BASE"
fi

# ---- the project's image: the Dockerfile, unchanged ------------------------------------------
# pip inside the build reaches PyPI through this machine's TLS proxy, whose CA is only in the
# host bundle: hand it to the pip step as a build secret (the Dockerfile's `build-ca`), so
# nothing of it is committed to the image.
ca=()
[[ -f /etc/ssl/certs/ca-certificates.crt ]] &&
  ca=(--secret id=build-ca,src=/etc/ssl/certs/ca-certificates.crt)
log "building $IMAGE"
old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --quiet --network host "${ca[@]}" --pull=never --format docker \
  ${NOCACHE:+--no-cache} --build-arg "VERSION=$app_version" -t "$IMAGE" "$REPO" >/dev/null

new_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
# The previous build of this tag, now untagged: only it goes. (`podman image prune` would also
# drop the intermediate images that are the layer cache, and every rebuild would start over.)
if [[ -n $old_id && $old_id != "$new_id" ]]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi

# ---- the pause image: a static binary in a scratch image --------------------------------------
if ! podman image exists "$PAUSE"; then
  log "building $PAUSE"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  gcc -Os -static -o "$tmp/pause" "$REPO/hack/pause/pause.c"; strip "$tmp/pause"
  c=$(buildah from scratch)
  buildah copy --quiet "$c" "$tmp/pause" /pause
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah commit --quiet --rm "$c" "$PAUSE" >/dev/null
fi

# ---- OCI archives for containerd, named by image id: unchanged image, unchanged archive -------
export_archive() {  # export_archive REF NAME -> path
  local ref=$1 name=$2 id path
  id=$(podman image inspect --format '{{.Id}}' "$ref")
  path="$OUT/$name-${id:0:12}.oci.tar"
  if [[ ! -s $path ]]; then
    rm -f "$OUT/$name"-*.oci.tar
    podman save --quiet --format oci-archive -o "$path.partial" "$ref"
    mv "$path.partial" "$path"
    log "exported $ref to $path"
  fi
  ln -sfn "$(basename "$path")" "$OUT/$name.oci.tar"
  echo "$path"
}
export_archive "$PAUSE" pause >/dev/null
printf '%s\n' "$IMAGE" > "$OUT/dbmigrator.ref"
export_archive "$IMAGE" dbmigrator
