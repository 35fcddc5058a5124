"""Migrations shipped as an OCI image (`spec.source.image`), past the 1 MiB ConfigMap limit.

A generated set of more than 1 MiB is built into a FROM-scratch image with podman (as a team
would in CI), loaded into the node's containerd (a registry pull's stand-in), and applied through
the image source with validation on. The engine Job's init containers copy the files out; the
node runs containerd 1.6, which has no image volumes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Shop, shop_resource

pytestmark = pytest.mark.e2e


def generated_set(directory: Path, files: int = 24, rows: int = 600) -> int:
    """Idempotent migrations, each a table plus a few hundred rows; returns the total bytes."""
    directory.mkdir(parents=True)
    total = 0
    for n in range(1, files + 1):
        values = ",\n".join(
            f"  ({i}, 'item {i} of batch {n}: {secrets.token_hex(24)}')" for i in range(rows)
        )
        text = (
            f"-- generated batch {n}\n"
            f"create table if not exists public.batch_{n:03d} (id int primary key, note text);\n"
            f"insert into public.batch_{n:03d} (id, note) values\n{values}\n"
            "on conflict (id) do nothing;\n"
        )
        path = directory / f"{n:03d}_batch_{n}.sql"
        path.write_text(text)
        total += len(text.encode())
    return total


def build_image(context: Path, ref: str) -> None:
    (context / "Containerfile").write_text("FROM scratch\nCOPY sql/ /sql/migrations/\n")
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "hack" / "containers.conf")}
    proc = subprocess.run(
        ["podman", "build", "--quiet", "--network", "none", "-t", ref, str(context)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_a_set_over_one_mebibyte_applies_from_an_image(shop: Shop, tmp_path: Path) -> None:
    size = generated_set(tmp_path / "sql")
    assert size > 1024 * 1024, f"the generated set is only {size} bytes"
    ref = f"localhost/shop-migrations-big:{secrets.token_hex(4)}"
    build_image(tmp_path, ref)
    try:
        shop.cluster.load_image(ref)
    finally:
        subprocess.run(["podman", "rmi", ref], capture_output=True, check=False,
                       env={**os.environ, "CONTAINERS_CONF": str(REPO / "hack" / "containers.conf")})  # fmt: skip
    resource = shop_resource(
        shop.namespace,
        target="024",
        source={"image": {"reference": ref, "path": "/sql/migrations", "pullPolicy": "Never"}},
        phases=[
            {"name": "first-half", "through": "012"},
            {"name": "second-half", "through": "024"},
        ],
        backup={"enabled": False},
        rehearsal={"enabled": False},
        validation={"enabled": True},
    )
    shop.apply(resource)
    st = shop.wait_settled(timeout=300)["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "024", st.get("message")
    assert st["validation"]["passed"] is True and st["validation"]["total"] > 24
    assert [p["state"] for p in st["phases"]] == ["Succeeded", "Succeeded"]
    assert shop.query("select count(*) from public.batch_024") == [(600,)]
    assert shop.query("select count(*) from supabase_migrations.schema_migrations") == [(24,)]
