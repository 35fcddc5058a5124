"""The safety gate on the real local cluster (issue 14's "done when"): the shop flows to 008 with
no approval; a 009 with a plain CREATE INDEX on an existing table and a column type change waits
in AwaitingApproval with its hash and runs nothing; an approval for another plan keeps it
waiting; the right hash lets it run to 009; an out-of-band ALTER TABLE is drift for the CLI and
for the operator's next run (Fail stops it, Warn reports it and goes on)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CLI, REPO, Shop, shop_resource, wait_for
from tests.integration.test_lint import NINE  # the dangerous 009 the lint tests use
from tests.unit.test_argocd_health import run_health
from tests.unit.test_gitops_health import flux_health

pytestmark = pytest.mark.e2e

TEN = "CREATE TABLE IF NOT EXISTS public.gate_marker (id int PRIMARY KEY);\n"
SNEAKY = "public.categories: column sneaky added"


def _args(shop: Shop, job: str) -> list[str]:
    data = json.loads(shop.kubectl("get", "job", job, "-o", "json"))
    args: list[str] = data["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def _events(shop: Shop) -> str:
    return shop.kubectl(
        "get", "events", "--field-selector", "involvedObject.kind=DatabaseMigration",
        "-o", "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message",
    )  # fmt: skip


def _awaiting(shop: Shop) -> dict[str, Any] | None:
    r = shop.resource()
    st = r.get("status") or {}
    if st.get("observedGeneration") != r["metadata"]["generation"]:
        return None
    return r if st.get("phase") == "AwaitingApproval" else None


def test_a_dangerous_migration_waits_for_its_plan_to_be_approved_and_drift_is_seen(
    shop: Shop,
) -> None:
    spec = {"phases": [], "rehearsal": {"enabled": False}}
    shop.apply(shop_resource(shop.namespace, "008", **spec))
    st = shop.wait_settled(timeout=300)["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "008", st.get("message")
    plan = st["plan"]
    assert plan["reviewRequired"] is False and plan["lintCounts"]["error"] == 0
    assert plan["fileCount"] == 8 and plan["hash"].startswith("sha256:")
    assert "shop-db-g1-plan" in shop.jobs()
    assert _args(shop, "shop-db-g1-migrate-1")[-10:-4] == [
        "--expect-plan", plan["hash"], "--plan-from", "0", "--plan-target", "008"
    ]  # fmt: skip

    # 009 needs a human: the plan step runs, nothing else.
    shop.set_migrations(REPO / "migrations", {"009_orders_status_index.sql": NINE})
    shop.apply(shop_resource(shop.namespace, "009", **spec))
    r = wait_for("AwaitingApproval", lambda: _awaiting(shop), timeout=180)
    st = r["status"]
    plan = st["plan"]
    assert plan["direction"] == "up" and plan["fromVersion"] == "008"
    assert plan["targetVersion"] == "009" and plan["reviewRequired"] is True
    assert [f["name"] for f in plan["files"]] == ["009_orders_status_index.sql"]
    rules = {(f["rule"], f["level"], f["line"]) for f in plan["lint"]}
    assert ("require-concurrent-index-creation", "error", 2) in rules
    assert ("changing-column-type", "error", 5) in rules
    ready = shop.condition("Ready")
    assert ready["status"] == "False" and ready["reason"] == "AwaitingApproval"
    assert f"dbmigrator.io/approve-plan={plan['hash']}" in ready["message"]
    assert shop.condition("Reconciling")["status"] == "False"
    assert shop.condition("Stalled")["status"] == "False"
    assert [j for j in shop.jobs() if "-g2-" in j] == ["shop-db-g2-plan"], "no backup, no Job"
    assert run_health(r) == ("Suspended", st["message"])
    assert flux_health(r) == "InProgress"
    row = shop.kubectl("get", "dbm", "shop-db").splitlines()[1].split()
    assert row[:4] == ["shop-db", "009", "008", "AwaitingApproval"]
    events = _events(shop)
    assert "PlanComputed" in events and "AwaitingApproval" in events

    # An approval for another plan does not approve this one. The annotation is a watch event
    # the operator acts on at once (its own recheck of a waiting plan is only every 60 s).
    other = "sha256:" + "0" * 64
    shop.kubectl("annotate", "dbm", "shop-db", f"dbmigrator.io/approve-plan={other}")
    wait_for("the other-plan message",
             lambda: "approves another plan" in shop.condition("Ready").get("message", ""),
             timeout=20)  # fmt: skip
    time.sleep(3)
    assert [j for j in shop.jobs() if "-g2-" in j] == ["shop-db-g2-plan"]
    assert shop.resource()["status"]["phase"] == "AwaitingApproval"

    # The right hash (what a Git commit of the annotation carries) lets it run.
    shop.kubectl("annotate", "dbm", "shop-db", "--overwrite",
                 f"dbmigrator.io/approve-plan={plan['hash']}")  # fmt: skip
    st = shop.wait_settled(timeout=300)["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "009", st.get("message")
    assert st["plan"]["approved"] is True and st["plan"]["hash"] == plan["hash"]
    assert {"shop-db-g2-backup", "shop-db-g2-migrate-1"} <= set(shop.jobs())
    args = _args(shop, "shop-db-g2-migrate-1")
    assert args[args.index("--expect-plan") + 1] == plan["hash"]
    assert "PlanApproved" in _events(shop)
    assert shop.query("select 1 from pg_indexes where indexname = 'orders_status_idx'") == [(1,)]

    # Out of band: the CLI sees it, exit 1.
    shop.query("ALTER TABLE public.categories ADD COLUMN sneaky int")
    migrations = Path(shop.cluster.state_dir) / "gate-migrations"
    migrations.mkdir(exist_ok=True)
    for p in (REPO / "migrations").glob("*.sql"):
        (migrations / p.name).write_text(p.read_text())
    (migrations / "009_orders_status_index.sql").write_text(NINE)
    env = {**os.environ, "DATABASE_URL": shop.dsn}
    drift = subprocess.run([str(CLI), "drift", "--dir", str(migrations)], env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert SNEAKY in drift.stdout

    # The operator's next run: drift Fail stops it before anything runs...
    shop.set_migrations(REPO / "migrations", {"009_orders_status_index.sql": NINE,
                                              "010_gate_marker.sql": TEN})  # fmt: skip
    shop.apply(shop_resource(shop.namespace, "010", **spec, safety={"drift": "Fail"}))
    st = shop.wait_settled(timeout=180)["status"]
    assert st["phase"] == "Failed" and shop.condition("Ready")["reason"] == "SchemaDriftDetected"
    assert SNEAKY in st["message"] and shop.condition("Stalled")["status"] == "True"
    assert [d["message"] for d in st["plan"]["drift"]] == [SNEAKY]
    assert [j for j in shop.jobs() if "-g3-" in j] == ["shop-db-g3-plan"]
    assert "gate_marker" not in shop.tables()
    assert run_health(shop.resource())[0] == "Degraded"

    # ... and Warn reports it (status, a Warning Event) and goes on.
    shop.apply(shop_resource(shop.namespace, "010", **spec, safety={"drift": "Warn"}))
    st = shop.wait_settled(timeout=300)["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "010", st.get("message")
    assert st["plan"]["driftCount"] == 1 and st["plan"]["drift"][0]["message"] == SNEAKY
    warnings = shop.kubectl(
        "get", "events", "--field-selector", "type=Warning,reason=SchemaDriftDetected"
    )
    assert SNEAKY in warnings
