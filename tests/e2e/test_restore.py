"""onFailure: Restore on the real node: the restore Job verifies the dump against the sha256 the
backup Job recorded in status, confined to the backup volume, before it touches the database.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Shop, shop_resource

pytestmark = pytest.mark.e2e

GOOD_006 = "create table if not exists public.half_done (id int);\n"
BROKEN_007 = "select 1/0;\n"


def _jobs_args(shop: Shop, step: str) -> list[str]:
    jobs = json.loads(shop.kubectl("get", "jobs", "-o", "json"))["items"]
    for job in jobs:
        if job["metadata"]["name"].endswith(f"-{step}"):
            return list(job["spec"]["template"]["spec"]["containers"][0]["args"])
    raise AssertionError(f"no {step} job among {[j['metadata']['name'] for j in jobs]}")


def test_a_failed_migration_is_restored_from_its_verified_backup(
    shop: Shop, tmp_path: Path
) -> None:
    five = tmp_path / "five"
    five.mkdir()
    for path in sorted((REPO / "migrations").glob("00[1-5]_*.sql")):
        shutil.copy(path, five / path.name)
    shop.set_migrations(five)
    shop.apply(shop_resource(shop.namespace, target="005", phases=[], rehearsal={"enabled": False},
                             validation={"enabled": False}))  # fmt: skip
    st = shop.wait_settled()["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "005", st.get("message")

    # 006 applies, 007 fails: the run changed the database, so the backup is restored.
    shop.set_migrations(five, {"006_good.sql": GOOD_006, "007_broken.sql": BROKEN_007})
    shop.apply(shop_resource(
        shop.namespace, target="007", phases=[], rehearsal={"enabled": False},
        validation={"enabled": False}, rollback={"onFailure": "Restore", "allowDataLoss": True},
    ))  # fmt: skip
    st = shop.wait_settled(timeout=240)["status"]
    assert st["phase"] == "Failed", st.get("message")
    assert "division by zero" in st["message"], st["message"]
    assert st["history"][-1]["operation"] == "restore", st["history"][-1]
    assert st["history"][-1]["result"] == "Succeeded", st["history"][-1]
    assert st["currentVersion"] == "005"
    assert "half_done" not in shop.tables()
    assert shop.query("select max(version) from supabase_migrations.schema_migrations") == [
        ("005",)
    ]
    restore = json.loads(shop.kubectl("get", "job", "shop-db-g2-restore", "-o", "json"))
    assert restore["status"].get("succeeded") == 1, restore["status"]
    args = _jobs_args(shop, "restore")
    backup = st["backup"]
    assert args[args.index("--expect-sha256") + 1] == backup["sha256"]
    assert args[args.index("--from") + 1] == f"/backups/{backup['file']}"
