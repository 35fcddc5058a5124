"""`dbmigrator lint` and the lint in `plan` against a real PostgreSQL, with the shop: its own
files forward from empty and its rollback to 005 have no error finding; a 009 with a plain
CREATE INDEX and a column type change on an existing table has both, at their lines, and exits 1.
The plan context comes from the database: what is applied is no longer new."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli

SHOP = REPO / "migrations"
NINE = (
    "-- 009: faster order lists, longer totals\n"
    "CREATE INDEX orders_status_idx ON public.orders (status);\n"
    "\n"
    "ALTER TABLE public.orders\n"
    "  ALTER COLUMN total TYPE numeric(14, 2);\n"
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHOP, tmp_path / "migrations"))


def _bootstrap(dsn: str) -> None:
    assert run_cli("bootstrap", dsn=dsn).returncode == 0


def test_the_shop_forward_from_empty_has_no_error(dsn: str, shop: Path) -> None:
    _bootstrap(dsn)
    lint = run_cli("lint", "--dir", str(shop), "-o", "json", dsn=dsn)
    assert lint.returncode == 0, lint.output
    data = json.loads(lint.stdout)
    assert data["ok"] is True and data["counts"]["error"] == 0
    assert data["files"] == sorted(p.name for p in shop.glob("00?_*[!n].sql"))
    plan = run_cli("plan", "--dir", str(shop), "-o", "json", dsn=dsn)
    assert plan.returncode == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["lintCounts"] == data["counts"]
    assert planned["lint"] == data["lint"]


def test_an_index_and_a_type_change_on_an_existing_table_stop_lint(dsn: str, shop: Path) -> None:
    _bootstrap(dsn)
    up = run_cli("up", "--dir", str(shop), "--no-validate", dsn=dsn)
    assert up.returncode == 0, up.output
    (shop / "009_orders_status_index.sql").write_text(NINE)

    lint = run_cli("lint", "--dir", str(shop), "-o", "json", dsn=dsn)
    assert lint.returncode == 1, lint.output
    data = json.loads(lint.stdout)
    assert data["files"] == ["009_orders_status_index.sql"]
    errors = [(f["file"], f["line"], f["rule"]) for f in data["lint"] if f["level"] == "error"]
    assert errors == [
        ("009_orders_status_index.sql", 2, "require-concurrent-index-creation"),
        ("009_orders_status_index.sql", 5, "changing-column-type"),
    ]
    assert data["ok"] is False and data["counts"]["error"] == 2

    text = run_cli("lint", "--dir", str(shop), dsn=dsn)
    assert text.returncode == 1
    assert "009_orders_status_index.sql:2 require-concurrent-index-creation [error]" in text.stdout
    assert "009_orders_status_index.sql:5 changing-column-type [error]" in text.stdout
    assert "1 file(s) linted: 2 error(s)" in text.stdout
    assert run_cli("lint", "--dir", str(shop), "--fail-on", "never", dsn=dsn).returncode == 0

    plan = run_cli("plan", "--dir", str(shop), "-o", "json", dsn=dsn)
    assert plan.returncode == 0, "plan never fails on findings"
    assert json.loads(plan.stdout)["lintCounts"]["error"] == 2
    shown = run_cli("plan", "--dir", str(shop), dsn=dsn)
    assert "lint 009_orders_status_index.sql:" in shown.stdout
    assert "changing-column-type" in shown.stdout

    # The project may accept the risk: lower the rule, or ignore it in its checks file.
    (shop / "checks.yaml").write_text(
        "lint: {warning: [require-concurrent-index-creation], ignore: [changing-column-type]}\n"
    )
    accepted = run_cli("lint", "--dir", str(shop), "-o", "json", dsn=dsn)
    assert accepted.returncode == 0, accepted.output
    assert json.loads(accepted.stdout)["counts"]["error"] == 0

    # The rollback to 005 (down files 008, 007, 006) has no error finding.
    down = run_cli("lint", "--dir", str(shop), "--down-to", "005", "-o", "json", dsn=dsn)
    assert down.returncode == 0, down.output
    rollback = json.loads(down.stdout)
    assert rollback["direction"] == "down"
    assert rollback["files"] == [
        "008_create_admin_roles.down.sql",
        "007_enable_realtime.down.sql",
        "006_migrate_product_data.down.sql",
    ]
    assert rollback["counts"]["error"] == 0
    assert {f["rule"] for f in rollback["lint"]} <= {"ban-drop-table", "ban-drop-function"}
    dry = run_cli("down", "--dir", str(shop), "--target", "005", "--dry-run", dsn=dsn)
    assert dry.returncode == 0, dry.output
    assert "lint 008_create_admin_roles.down.sql:" in dry.stdout
    assert "ban-drop-table [warning]" in dry.stdout
