"""The image `make image` built from the Dockerfile, run the way a kubelet runs it.

podman runs it with no `--user` (the image's own USER must be the non-root 10001), a read-only
root and no network; the PostgreSQL client is the major the image says, busybox is there for the
image-source copier, and a second build with nothing changed reuses every layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from localcluster.state import REPO_ROOT

pytestmark = pytest.mark.e2e
IMAGE = "ghcr.io/dbmigrator/dbmigration-operator:0.1.0"
ENV = {**os.environ, "CONTAINERS_CONF": str(REPO_ROOT / "hack" / "containers.conf")}


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout, check=False)  # fmt: skip


def run_in_image(*args: str, entrypoint: str | None = None) -> str:
    argv = ["run", "--rm", "--network", "none", "--read-only", "--read-only-tmpfs=false"]
    argv += ["--entrypoint", entrypoint] if entrypoint else []
    proc = podman(*argv, IMAGE, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_image_runs_non_root_read_only_with_its_tools() -> None:
    assert "Usage: dbmigrator" in run_in_image("--help")
    who = run_in_image("-c", "id -u; id -g; pg_dump --version; pg_restore --version; "
                       "busybox --help | head -1; python3 --version; squawk --version; "
                       "python3 -c 'from dbmigrator.engine.lint import find_squawk; "
                       "print(find_squawk())'", entrypoint="sh")  # fmt: skip
    lines = who.splitlines()
    assert lines[:2] == ["10001", "10001"], "the image's USER is the chart's runAsUser"
    assert lines[2].startswith("pg_dump (PostgreSQL) 15.")
    assert lines[3].startswith("pg_restore (PostgreSQL) 15.")
    assert lines[4].startswith("BusyBox")
    assert lines[5].startswith("Python 3.11")
    assert lines[6].startswith("squawk 2."), "lint needs the squawk binary in the image"
    assert lines[7] == "/app/.venv/bin/squawk"
    inspect = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    labels = inspect["Labels"]
    assert labels["org.opencontainers.image.base.name"] == "docker.io/library/debian:bookworm-slim"
    assert inspect["Config"]["Entrypoint"] == ["dbmigrator"]


def test_a_rebuild_with_nothing_changed_takes_seconds() -> None:
    began = time.monotonic()
    proc = subprocess.run(["bash", str(REPO_ROOT / "hack" / "build-image.sh")],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    took = time.monotonic() - began
    assert proc.returncode == 0, proc.stderr
    assert "exported" not in proc.stderr, "an unchanged image must not be exported again"
    assert took < 60, f"an unchanged rebuild took {took:.0f}s"
