# dbmigration-operator: the test pyramid and the everyday commands.
# `make install` builds .venv/; every other target uses it.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest
# kubectl, kubelet & co. at the servers' version come first on PATH (hack/build-k8s.sh builds them).
K8S_BIN := $(shell bash hack/build-k8s.sh --bin-dir)
export PATH := $(K8S_BIN):$(PATH)

.PHONY: install deps k8s image kwok lint fmt test test-unit test-int test-e2e demo bench-engine bench-peers bench-operator bench-scale clean crds

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Everything a fresh Debian machine lacks, each step a no-op once done (.ci/run calls them too):
# the Debian packages, the Kubernetes binaries (first build ~11 min on 2 cores, then cached), and
# the project's image plus the node's pause image (first build ~3 min, then seconds).
deps:
	bash hack/install-deps.sh

k8s: deps
	bash hack/build-k8s.sh >/dev/null

image: deps
	bash hack/build-image.sh

# kwok (simulated nodes) for bench-scale and its e2e smoke test (first build a few minutes).
kwok:
	bash hack/build-kwok.sh >/dev/null

lint: install
	$(BIN)/ruff check operator tools tests
	$(BIN)/ruff format --check operator tools tests
	$(BIN)/mypy operator/dbmigrator
	$(BIN)/mypy tools
	$(BIN)/lint-imports
	$(BIN)/yamllint crds charts deploy examples
	$(BIN)/hadolint Dockerfile

fmt: install
	$(BIN)/ruff format operator tools tests
	$(BIN)/ruff check --fix operator tools tests

test-unit: install
	$(PYTEST) -q tests/unit

test-int: install deps
	$(PYTEST) -q tests/integration

test-e2e: install k8s image kwok
	$(PYTEST) -q tests/e2e

test: install k8s image kwok
	$(PYTEST) -q tests

demo: install k8s image
	$(BIN)/python tools/demo.py

bench-engine: install
	$(BIN)/python tools/bench_engine.py --write docs/benchmarks.md

# The peers (golang-migrate from its Go module, Flyway from Maven Central jars) are built here,
# not in `make test` or .ci/run: benchmarks are not CI. A peer that fails to build is skipped.
bench-peers: install
	bash hack/build-peers.sh
	$(BIN)/python tools/bench_peers.py --write docs/benchmarks.md

bench-operator: install k8s image
	$(BIN)/python tools/bench_operator.py --write docs/benchmarks.md

bench-scale: install k8s image kwok
	$(BIN)/python tools/bench_scale.py --write docs/benchmarks.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .localpg .localcluster

# The CRD and its reference are generated from operator/dbmigrator/api/spec.py and status.py.
crds: install
	PYTHONPATH=operator $(BIN)/python -m dbmigrator.api.crd > crds/dbmigrator.io_databasemigrations.yaml
	PYTHONPATH=operator $(BIN)/python -m dbmigrator.api.crd --reference > docs/crd-reference.md
	$(MAKE) chart-crds

# ---- local Kubernetes control plane (tools/localcluster, docs/local-cluster.md) ----
.PHONY: cluster-up cluster-down test-cluster

cluster-up: install k8s image
	PYTHONPATH=tools $(BIN)/python -m localcluster up

cluster-down: install
	PYTHONPATH=tools $(BIN)/python -m localcluster down

test-cluster: install k8s image
	$(PYTEST) -q tests/cluster

# The chart ships a byte-identical copy of the CRD (tests/unit/test_chart.py checks it).
.PHONY: chart-crds
chart-crds:
	cp crds/dbmigrator.io_databasemigrations.yaml charts/dbmigration-operator/crds/dbmigrator.io_databasemigrations.yaml
