# syntax=docker/dockerfile:1
# One image for the operator and for the Jobs it starts:
#   operator:  the default CMD (`dbmigrator operator --all-namespaces`; the chart sets its own args)
#   Jobs:      command ["dbmigrator"], args ["up", "--dir", "/migrations", ...]
#
#   docker build -t ghcr.io/dbmigrator/dbmigration-operator:0.1.0 .     (or: make image)
#
# Base: Debian bookworm-slim with Debian's own python3 (3.11) and PostgreSQL 15 client, one
# distribution for both, so every package comes from one signed archive and one security feed.
# `make image` builds exactly this file with podman/buildah; the base image is made locally from
# the Debian archive with mmdebstrap (hack/build-image.sh), a registry is never needed.
#
# PostgreSQL client tools: pg_dump must be of the server's major or newer, and pg_restore must
# match the target, so the image carries the client of the servers we target (15, Debian
# bookworm's own). For PostgreSQL 17 servers (Supabase's newer images) build with
#   docker build --build-arg PG_MAJOR=17 -t ...:0.1.0-pg17 .
# which adds the PostgreSQL project's apt repository (PGDG, apt.postgresql.org, signed with its
# published key ACCC4CF8) and installs postgresql-client-17 from it instead.
#
# busybox (static) is in the image for one job: migrations shipped as an image
# (spec.source.image) may be FROM scratch, with no shell or cp; the Job's init container runs
# this static busybox from a shared emptyDir inside that image to copy the files out.
#
# Lint: hadolint (make lint) and tests/unit/test_dockerfile.py; the build itself is tested by
# tests/image/ (make image, then the image run as uid 10001 with a read-only root).

ARG BASE_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------- builder
FROM ${BASE_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY operator/ ./operator/

# Build the wheel, then install it with its dependencies (all of them ship manylinux wheels:
# psycopg[binary], pglast, pydantic-core, and squawk-cli with the squawk binary for lint) into
# the venv the final stage copies as it is. The venv lives at the same path in both stages and
# points at the same /usr/bin/python3, so its scripts' shebangs stay valid.
# Behind a TLS-intercepting proxy, give pip the proxy's CA for this step only, never baked in:
#   docker build --secret id=build-ca,src=/path/to/ca-bundle.crt .
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export PIP_CERT=/run/secrets/build-ca; fi \
    && python3 -m venv /app/.venv \
    && /app/.venv/bin/pip install --no-cache-dir --upgrade pip setuptools wheel \
    && /app/.venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /app/.venv/bin/pip install --no-cache-dir /wheels/*.whl \
    && /app/.venv/bin/pip uninstall -y pip setuptools wheel \
    && /app/.venv/bin/dbmigrator --help >/dev/null

# ---------------------------------------------------------------------------- final
FROM ${BASE_IMAGE}

ARG PG_MAJOR=15
ARG VERSION=0.1.0

LABEL org.opencontainers.image.title="dbmigration-operator" \
      org.opencontainers.image.description="PostgreSQL migration engine (dbmigrator CLI) and the Kubernetes operator for DatabaseMigration resources" \
      org.opencontainers.image.source="https://github.com/dbmigrator/dbmigration-operator" \
      org.opencontainers.image.url="https://github.com/dbmigrator/dbmigration-operator" \
      org.opencontainers.image.licenses="GPL-3.0-or-later" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Debian's python3 and postgresql-client-15 (bookworm); another major comes from PGDG (see the
# header).
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    if [ "${PG_MAJOR}" != "15" ]; then \
      apt-get install -y --no-install-recommends ca-certificates curl; \
      install -d /usr/share/postgresql-common/pgdg; \
      curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
      echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
      apt-get purge -y --auto-remove curl; \
      apt-get update; \
    fi; \
    apt-get install -y --no-install-recommends python3 ca-certificates busybox-static \
      "postgresql-client-${PG_MAJOR}"; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 dbmigrator; \
    useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin dbmigrator

COPY --from=builder /app/.venv /app/.venv

# The major's own binaries come first, so pg_dump/pg_restore/psql never go through Debian's
# pg_wrapper and always are the ${PG_MAJOR} tools.
ENV PATH="/app/.venv/bin:/usr/lib/postgresql/${PG_MAJOR}/bin:${PATH}" \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp

# squawk (migration lint) comes with the squawk-cli wheel into /app/.venv/bin.
RUN dbmigrator --help >/dev/null && pg_dump --version && pg_restore --version && psql --version \
    && /bin/busybox --help >/dev/null && squawk --version

WORKDIR /app
# metrics, kopf liveness (/healthz)
EXPOSE 8080 8081
USER 10001:10001
# Kubernetes probes (liveness on :8081/healthz) watch the operator; a Job needs no healthcheck.
HEALTHCHECK NONE
ENTRYPOINT ["dbmigrator"]
CMD ["operator", "--all-namespaces"]
